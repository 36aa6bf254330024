using NanoBanana.Infrastructure.Security;

namespace NanoBanana.Tests.Infrastructure.Security;

/// <summary>The hasher's decoy costs nothing to make and never verifies; hashes run off the thread pool.</summary>
public sealed class PasswordHasherTests
{
    [Fact]
    public async Task Making_a_hasher_does_not_hash_so_start_up_pays_nothing_for_its_decoy()
    {
        // At this cost one hash would take hours: a hasher that hashed its decoy when made would not be ready in time.
        var made = Task.Run(() => new PasswordHasher(iterations: int.MaxValue));
        var hasher = await made.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(int.MaxValue, hasher.Iterations);
    }

    [Fact]
    public void An_unknown_users_check_runs_against_the_decoy_and_fails_whatever_the_password()
    {
        var hasher = new PasswordHasher(iterations: 1000);
        Assert.False(hasher.Verify("any password", null));
        Assert.False(hasher.Verify("", null));
        Assert.False(hasher.Verify("any password", "not a stored hash"));
        Assert.True(hasher.Verify("any password", hasher.Hash("any password"))); // the control: a real hash verifies
    }

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
