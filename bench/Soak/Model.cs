namespace Soak;

/// <summary>What every part of the run shares: the options, the API client and the socket address.</summary>
sealed class Run(Options options, Api api)
{
    public Options Options { get; } = options;
    public Api Api { get; } = api;
    public string WsBase { get; } = options.Url.Replace("http://", "ws://", StringComparison.Ordinal);
}

/// <summary>A person: several signed-in devices, a few chats, the pictures uploaded into them.</summary>
sealed class User(Run run, string id, string name, string email, string password)
{
    public Run Run { get; } = run;
    public string Id { get; } = id;
    public string Name { get; } = name;
    public string Email { get; } = email;
    public string Password { get; } = password;
    public List<Device> Devices { get; } = [];
    public List<Chat> Chats { get; } = [];
    public long FinalSeq { get; set; }
}

/// <summary>
/// One of a user's sessions, as the soak knows it. Messages sit in two pools so that no two
/// operations race on one message: <c>Editable</c> ones are taken out while an edit, an attach or a
/// delete runs on them; <c>Kept</c> ones are never deleted and are what reads pick from.
/// </summary>
sealed class Chat(string id)
{
    public string Id { get; } = id;
    readonly object _gate = new();
    readonly List<string> _editable = [];
    readonly List<string> _kept = [];
    readonly List<string> _images = [];
    int _count;

    public int Count => Volatile.Read(ref _count);

    public void Added(string messageId, bool editable)
    {
        lock (_gate) (editable ? _editable : _kept).Add(messageId);
        Interlocked.Increment(ref _count);
    }

    public void Deleted() => Interlocked.Decrement(ref _count);

    /// <summary>Takes an editable message out of the pool (null when there is none); give it back with Return.</summary>
    public string? Take()
    {
        lock (_gate)
        {
            if (_editable.Count == 0) return null;
            var i = Random.Shared.Next(_editable.Count);
            var id = _editable[i];
            _editable[i] = _editable[^1];
            _editable.RemoveAt(_editable.Count - 1);
            return id;
        }
    }

    public void Return(string messageId, bool keep)
    {
        lock (_gate) (keep ? _kept : _editable).Add(messageId);
    }

    public string? AnyKept()
    {
        lock (_gate) return _kept.Count == 0 ? null : _kept[Random.Shared.Next(_kept.Count)];
    }

    public void ImageAdded(string imageId) { lock (_gate) _images.Add(imageId); }

    public string? AnyImage()
    {
        lock (_gate) return _images.Count == 0 ? null : _images[Random.Shared.Next(_images.Count)];
    }
}
