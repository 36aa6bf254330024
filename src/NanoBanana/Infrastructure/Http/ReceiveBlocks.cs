using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;

namespace NanoBanana.Infrastructure.Http;

/// <summary>
/// Kestrel's memory pool with blocks of <see cref="BlockSize"/> instead of its 4 KiB: the socket transport receives
/// one block per <c>recv</c>, so a 3 MiB upload took about 800 receives (each two system calls, a pipe flush and a
/// wake-up of the reader), and takes about 100. An idle socket holds no block (Kestrel waits for data before it rents
/// one), so the larger blocks cost memory only while bytes are in flight. At most <see cref="RetainedBlocks"/> free
/// blocks are kept (a burst of handshakes leaves no megabytes behind); the others are left to the GC.
/// </summary>
public sealed class ReceiveBlocks : IMemoryPoolFactory<byte>
{
    public const int BlockSize = 32 * 1024;
    public const int RetainedBlocks = 128;

    public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => new Pool();

    sealed class Pool : MemoryPool<byte>
    {
        readonly ConcurrentQueue<Block> _free = new();
        int _freeCount;

        public override int MaxBufferSize => BlockSize;

        public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockSize);
            if (_free.TryDequeue(out var block))
            {
                Interlocked.Decrement(ref _freeCount);
                return block;
            }
            return new Block(this);
        }

        internal void Return(Block block)
        {
            if (Interlocked.Increment(ref _freeCount) <= RetainedBlocks) _free.Enqueue(block);
            else Interlocked.Decrement(ref _freeCount);
        }

        protected override void Dispose(bool disposing) => _free.Clear();
    }

    /// <summary>A pinned array (the socket reads into it without pinning it each time), reused with its owner object.</summary>
    sealed class Block(Pool pool) : IMemoryOwner<byte>
    {
        readonly byte[] _array = GC.AllocateUninitializedArray<byte>(BlockSize, pinned: true);

        public Memory<byte> Memory => _array;

        public void Dispose() => pool.Return(this);
    }
}
