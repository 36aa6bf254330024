// The sharp side of the thumbnail benchmark: for every photo in the folder, a 1024 px and a 256 px
// WebP (long side, never upscaled, EXIF orientation applied, metadata stripped, sRGB, quality 80),
// CONCURRENCY photos at a time, ROUNDS times over. Prints one JSON line: {images, seconds, perSecond, cpuMsPerImage}.
import sharp from 'sharp';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

// MODE clone (default): the idiomatic sharp way, one clone() pipeline per size from the original.
// MODE chained: the same work as ours: 1024 px once to raw pixels, then 256 px from those.
const [dir, concurrencyArg = '2', roundsArg = '3', mode = 'clone'] = process.argv.slice(2);
const concurrency = Number(concurrencyArg);
const rounds = Number(roundsArg);
sharp.cache(false);

const files = (await readdir(dir)).filter(f => /\.(jpe?g|png)$/i.test(f)).sort();
const inputs = await Promise.all(files.map(f => readFile(join(dir, f))));

async function chained(input) {
  const { data, info } = await sharp(input, { failOn: 'truncated' }).rotate()
    .resize(1024, 1024, { fit: 'inside', withoutEnlargement: true })
    .raw().toBuffer({ resolveWithObject: true });
  const raw = { raw: { width: info.width, height: info.height, channels: info.channels } };
  const [big, small] = await Promise.all([
    sharp(data, raw).webp({ quality: 80 }).toBuffer(),
    sharp(data, raw).resize(256, 256, { fit: 'inside', withoutEnlargement: true }).webp({ quality: 80 }).toBuffer(),
  ]);
  return big.length + small.length;
}

async function thumbnails(input) {
  if (mode === 'chained') return chained(input);
  const base = sharp(input, { failOn: 'truncated' }).rotate();
  const sizes = [1024, 256];
  const out = await Promise.all(sizes.map(size => base.clone()
    .resize(size, size, { fit: 'inside', withoutEnlargement: true })
    .webp({ quality: 80 })
    .toBuffer()));
  return out.reduce((n, b) => n + b.length, 0);
}

async function run(list) {
  let next = 0;
  const worker = async () => { while (next < list.length) await thumbnails(list[next++]); };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

await run(inputs.slice(0, Math.min(2, inputs.length))); // warm-up
const cpu0 = process.cpuUsage();
const started = process.hrtime.bigint();
for (let r = 0; r < rounds; r++) await run(inputs);
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
const cpu = process.cpuUsage(cpu0);
const images = inputs.length * rounds;
// CPU time (user + system, every thread) per image: the work done, whatever else the machine runs.
const cpuMsPerImage = (cpu.user + cpu.system) / 1000 / images;
console.log(JSON.stringify({ images, seconds, perSecond: images / seconds, cpuMsPerImage, sharp: sharp.versions }));
