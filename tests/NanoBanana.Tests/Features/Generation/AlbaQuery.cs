using Alba;

namespace NanoBanana.Tests.Features.Generation;

public static class AlbaQuery
{
    /// <summary>A URL with a query string: Alba takes the path and each query value separately.</summary>
    public static SendExpression ToUrlWithQuery(this SendExpression send, string url)
    {
        var parts = url.Split('?', 2);
        var expression = send.ToUrl(parts[0]);
        if (parts.Length == 2)
            foreach (var pair in parts[1].Split('&'))
            {
                var kv = pair.Split('=', 2);
                expression = expression.QueryString(kv[0], kv.Length == 2 ? kv[1] : "");
            }
        return expression;
    }
}
