namespace HostileSweep;

/// <summary>The hostile values the sweep throws.</summary>
public static class Catalogue
{
    /// <summary>Strings that mean something to Redis, Lua, SQL, NoSQL, shells, templates or browsers. Valid as free text.</summary>
    public static readonly string[] Injections =
    [
        "*",
        "?",
        "[a-z]*",
        "{u:x}",
        "}",
        "{",
        "nb:{u:x}:session:*",
        "\r\nFLUSHALL\r\n",
        "*1\r\n$8\r\nFLUSHALL\r\n",
        "'); redis.call('FLUSHALL'); --",
        "]] .. redis.call('flushall') .. [[",
        "' OR '1'='1' --",
        "1; DROP TABLE users; --",
        "{\"$gt\": \"\"}",
        "{\"$where\": \"sleep(1000)\"}",
        "__proto__",
        "${jndi:ldap://x/a}",
        "{{7*7}}",
        "<script>alert(1)</script>",
        "$(reboot)",
        "\u0000",
        "a\u0000b",
        "\u202Eevil\u202C",
        "\uFEFF",
        "Ａｄｍｉｎ",
        "𝕳𝖊𝖑𝖑𝖔 🎉",
        "e\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301",
        "%s%s%s%n",
        "../../../../etc/passwd",
        "..\\..\\..\\windows\\win.ini",
        "%2e%2e%2f%2e%2e%2f",
        "   ",
        "",
    ];

    /// <summary>Representative subset for the test suite.</summary>
    public static readonly string[] InjectionsSubset =
    [
        "*", "{u:x}", "\r\nFLUSHALL\r\n", "]] .. redis.call('flushall') .. [[", "' OR '1'='1' --", "{\"$gt\": \"\"}", "a\u0000b", "../../../../etc/passwd",
    ];

    /// <summary>
    /// Replacements for an id in a URL path, as sent on the wire (already percent-encoded where shown):
    /// traversal, encoded slashes, invalid UTF-8, Redis patterns and key names, overlong ids.
    /// </summary>
    public static IEnumerable<string> PathIds(string validId, string victimKeyName)
    {
        yield return "..";
        yield return "%2e%2e";
        yield return "..%2f..%2f..%2fetc%2fpasswd";
        yield return "%2e%2e%2f%2e%2e%2fhealth";
        yield return "%252e%252e%252f";
        yield return "..%5c..%5cwin.ini";
        yield return "a%2fb";
        yield return validId + "%2f..";
        yield return validId + "%00";
        yield return validId + "%20";
        yield return "%20" + validId;
        yield return validId.ToUpperInvariant();
        yield return "%ff%fe%fd";
        yield return "%c0%ae%c0%ae%c0%af";
        yield return "%ed%a0%80";
        yield return "*";
        yield return "%2a";
        yield return "%7Bu:x%7D";
        yield return "%7D:x%7B";
        yield return Uri.EscapeDataString(victimKeyName);
        yield return "%0d%0aFLUSHALL%0d%0a";
        yield return "%27%20OR%20%271%27=%271";
        yield return "%24where";
        yield return new string('a', 129);
        yield return new string('a', 6000);
        yield return "%e2%80%ae" + validId;
        yield return "null";
        yield return "undefined";
        yield return "-1";
    }

    public static readonly string[] PathIdsSubset = ["%2e%2e", "..%2f..%2fetc%2fpasswd", "a%2fb", "%ff%fe%fd", "*", "%7Bu:x%7D", "%0d%0aFLUSHALL%0d%0a"];

    /// <summary>Values for a numeric query parameter (limit, offset, since).</summary>
    public static readonly string[] Numbers =
    [
        "-1", "0", "1", "100", "101", "1000", "1001", "abc", "1.5", "1e3", "0x10", "%2B5", "%205", "99999999999999999999",
        "-99999999999999999999", "9223372036854775807", "2147483648", "NaN", "Infinity", "", "%00", "%D9%A3" /* Arabic-Indic 3 */,
        "1%2C2", "[1]", "%7B%7D", "null", "true",
    ];

    public static readonly string[] NumbersSubset = ["-1", "abc", "99999999999999999999", "1e3", "%00", "%D9%A3"];

    /// <summary>JSON bodies that are not valid JSON at all: always a 400.</summary>
    public static IEnumerable<(string Name, string Body)> BrokenJson()
    {
        yield return ("open brace", "{");
        yield return ("missing value", "{\"a\":}");
        yield return ("single quotes", "{'a':'b'}");
        yield return ("trailing comma", "{\"a\":1,}");
        yield return ("two documents", "{}{}");
        yield return ("trailing garbage", "{} garbage");
        yield return ("comment", "{/* c */}");
        yield return ("NaN literal", "{\"a\":NaN}");
        yield return ("unterminated string", "{\"a\":\"b");
        yield return ("open bracket", "[");
        yield return ("bare word", "hello");
        yield return ("deep nesting", new string('[', 100_000) + new string(']', 100_000));
        yield return ("deep objects", string.Concat(Enumerable.Repeat("{\"a\":", 5_000)) + "1" + new string('}', 5_000));
        yield return ("control char in string", "{\"a\":\"\u0001\"}");
    }

    /// <summary>Valid JSON of the wrong shape for an object body: 400 unless the route takes an optional body.</summary>
    public static IEnumerable<(string Name, string Body, bool MayPass)> WrongShapes()
    {
        yield return ("array", "[]", false);
        yield return ("string", "\"x\"", false);
        yield return ("number", "42", false);
        yield return ("true", "true", false);
        yield return ("null", "null", true);
        yield return ("empty", "", true);
        yield return ("whitespace", " \r\n\t ", true);
        yield return ("empty object", "{}", true);
    }

    /// <summary>Values of every JSON type, to put where a field expects another type.</summary>
    public static readonly (string Type, string Json)[] TypedValues =
    [
        ("number", "123"),
        ("number", "1.5"),
        ("number", "1e400"),
        ("number", "-99999999999999999999999999"),
        ("boolean", "true"),
        ("array", "[]"),
        ("array", "[1,{\"a\":[]}]"),
        ("object", "{}"),
        ("object", "{\"$gt\":\"\"}"),
        ("string", "\"123\""),
    ];

    /// <summary>Byte sequences that are not UTF-8, put inside a JSON string.</summary>
    public static readonly (string Name, byte[] Bytes)[] InvalidUtf8 =
    [
        ("0xFF 0xFE", [0xFF, 0xFE]),
        ("overlong slash", [0xC0, 0xAF]),
        ("lone continuation", [0x80]),
        ("truncated sequence", [0xE2, 0x82]),
        ("encoded surrogate", [0xED, 0xA0, 0x80]),
        ("beyond U+10FFFF", [0xF4, 0x90, 0x80, 0x80]),
    ];
}
