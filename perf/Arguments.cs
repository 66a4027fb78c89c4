using System.Globalization;

namespace Perf;

/// <summary>Command-line options: <c>--name value</c> pairs after the scenario name.</summary>
internal sealed class Arguments
{
    private readonly Dictionary<string, string> _values = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _used = new(StringComparer.OrdinalIgnoreCase);

    public Arguments(IEnumerable<string> args)
    {
        using var e = args.GetEnumerator();
        while (e.MoveNext())
        {
            var name = e.Current;
            if (!name.StartsWith("--", StringComparison.Ordinal))
            {
                throw new ArgumentException($"Unexpected argument '{name}': options are --name value.");
            }

            _values[name[2..]] = e.MoveNext() ? e.Current : throw new ArgumentException($"Option {name} needs a value.");
        }
    }

    public string? String(string name)
    {
        _used.Add(name);
        return _values.TryGetValue(name, out var v) ? v : null;
    }

    public int Int(string name, int fallback) => (int)Long(name, fallback);

    public long Long(string name, long fallback)
    {
        var text = String(name);
        if (text is null)
        {
            return fallback;
        }

        return long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= 0
            ? v
            : throw new ArgumentException($"Option --{name} must be a non-negative integer, not '{text}'.");
    }

    public double Double(string name, double fallback)
    {
        var text = String(name);
        if (text is null)
        {
            return fallback;
        }

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v >= 0
            ? v
            : throw new ArgumentException($"Option --{name} must be a non-negative number, not '{text}'.");
    }

    /// <summary>Throws when an option was given that no scenario asked for (a typo would otherwise be silently ignored).</summary>
    public void ThrowIfUnused()
    {
        var unused = _values.Keys.Where(k => !_used.Contains(k)).ToArray();
        if (unused.Length > 0)
        {
            throw new ArgumentException($"Unknown option(s): {string.Join(", ", unused.Select(u => "--" + u))}.");
        }
    }
}
