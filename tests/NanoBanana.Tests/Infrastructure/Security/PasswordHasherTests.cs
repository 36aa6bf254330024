using NanoBanana.Infrastructure.Security;

namespace NanoBanana.Tests.Infrastructure.Security;

public sealed class PasswordHasherTests
{
    [Fact]
    public async Task A_hash_runs_on_a_thread_of_its_own_and_leaves_the_thread_pool_free()
    {
        // Hashes of about a second: each is still running when its caller awaits it, so the code after each
        // await runs on the thread that finished the hash (called from a pool thread).
        var hasher = new PasswordHasher(iterations: 2_000_000, concurrency: 1);
        var stored = hasher.Hash("a password");

        var (hashedOnPool, verifiedOnPool, verified) = await Task.Run(async () =>
        {
            await hasher.HashAsync("another password").ConfigureAwait(false);
            var hashedOnPool = Thread.CurrentThread.IsThreadPoolThread;
            var ok = await hasher.VerifyAsync("a password", stored).ConfigureAwait(false);
            return (hashedOnPool, Thread.CurrentThread.IsThreadPoolThread, ok);
        });

        Assert.False(hashedOnPool);
        Assert.False(verifiedOnPool);
        Assert.True(verified);
    }
}
