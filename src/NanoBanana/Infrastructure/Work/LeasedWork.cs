namespace NanoBanana.Infrastructure.Work;

/// <summary>
/// A message that is background work held under a lease (see <see cref="WorkLeases"/>): whichever instance runs it
/// renews the lease while it runs; if that instance dies, any live one takes the work over once the lease lapses.
/// </summary>
public interface ILeasedWork
{
    /// <summary>The hash tag the lease is stored under (<see cref="WorkScope.OfUser"/> for a user's work): one cluster slot.</summary>
    string LeaseScope { get; }

    /// <summary>Names the work within its scope: the same id is the same piece of work (enqueued twice, it is one).</summary>
    string LeaseId { get; }
}

/// <summary>Leased work on one user's data: its lease lives in the user's slot, so it is enqueued in the user's change (<c>UserChange.Enqueue</c>).</summary>
public interface IUserWork : ILeasedWork
{
    string UserId { get; }

    string ILeasedWork.LeaseScope => WorkScope.OfUser(UserId);
}

public static class WorkScope
{
    /// <summary>The user's hash tag (<c>u:&lt;id&gt;</c>, as in Keys): the user's work shares the slot of the user's data.</summary>
    public static string OfUser(string userId) => $"u:{userId}";
}

/// <summary>
/// A leased handler's answer "not now": the work (<paramref name="Work"/>, same scope and id, e.g. with its attempt
/// counted up) is put back in the store, due after <paramref name="Delay"/>; whichever instance sweeps first then takes it.
/// </summary>
public sealed record RetryLater(ILeasedWork Work, TimeSpan Delay);
