namespace Cache.Tests.Support;

/// <summary>A fact that is skipped, with the reason, when an external program is not installed (CI installs it).</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class RequiresExecutableFactAttribute : FactAttribute
{
    public RequiresExecutableFactAttribute(params string[] executables)
    {
        if (executables.FirstOrDefault(e => Executables.Find(e) is null) is { } missing)
        {
            Skip = $"{missing} is not installed (apt-get install redis-tools redis-server); .ci/run installs it.";
        }
    }
}

internal static class Executables
{
    public static string? Find(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            var path = Path.Combine(dir, name);
            if (File.Exists(path))
            {
                return path;
            }
        }

        return null;
    }
}
