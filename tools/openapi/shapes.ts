// The main shapes of the generated client (.generated/api.d.ts, from the served document) hold what the seed
// client reads; .generated/answers.ts holds the service's real answers to the same types. tsc --noEmit checks both.
import type { components } from "./.generated/api";
import { session, messageData, image, pagination, problem } from "./.generated/answers";

type S = components["schemas"];
type Is<T, U> = [T] extends [U] ? ([U] extends [T] ? true : false) : false;
const yes = <T extends true>(): T | undefined => undefined;

// session: the seed's list and header read these.
yes<Is<S["SessionDto"]["id"], string>>();
yes<Is<S["SessionDto"]["title"], string>>();
yes<Is<S["SessionDto"]["messageCount"], number>>();
yes<Is<S["SessionDto"]["deletedAt"], string | null>>();
yes<Is<S["SessionsPage"]["sessions"], S["SessionDto"][]>>();

// messageData: the chat bubbles.
yes<Is<S["MessageDto"]["role"], "user" | "assistant" | "system">>();
yes<Is<S["MessageDto"]["imageIds"], string[]>>();
yes<Is<S["MessageDto"]["editedOf"], string | null>>();
yes<Is<S["MessagePostedResponse"]["messageData"], S["MessageDto"]>>();

// image: what a picture and its thumbnails load from.
yes<Is<S["ImageDto"]["url"], string>>();
yes<Is<S["ImageDto"]["status"], "processing" | "ready" | "failed">>();
yes<Is<S["ImageDto"]["type"], "uploaded" | "generated" | "edited">>();
yes<Is<S["ImageDto"]["thumbnails"][number]["url"], string>>();
yes<Is<S["ImageResponse"]["image"], S["ImageDto"]>>();

// pagination: every page's envelope.
yes<Is<S["Pagination"], { limit: number; offset: number; total: number; hasMore: boolean }>>();
yes<Is<S["ImagePage"]["pagination"], S["Pagination"]>>();

// problem body: the seed shows `message`; `code` is the stable machine word; more members may come.
yes<Is<S["Problem"]["message"], string>>();
yes<Is<S["Problem"]["code"], string>>();
yes<Is<S["Problem"]["error"], string>>();
const extra: S["Problem"] = { ...problem, retryAfterHint: 3 };

// The real answers are values of those types (answers.ts checks each with `satisfies`).
export const answers: [S["SessionDto"], S["MessageDto"], S["ImageDto"], S["Pagination"], S["Problem"]] =
  [session, messageData, image, pagination, extra];
