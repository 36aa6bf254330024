using System.Text;

namespace NanoBanana.Infrastructure.Redis;

public static class StoredText
{
    /// <summary>A string as Redis gives it back once stored (UTF-8: a lone surrogate comes back as U+FFFD).</summary>
    public static string AsStored(string s) => Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(s));
}
