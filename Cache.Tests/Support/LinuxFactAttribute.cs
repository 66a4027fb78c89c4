namespace Cache.Tests.Support;

/// <summary>A fact about a Linux-only socket option: skipped, with the reason, on other systems (CI runs Linux).</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class LinuxFactAttribute : FactAttribute
{
    public LinuxFactAttribute()
    {
        if (!OperatingSystem.IsLinux())
        {
            Skip = "The option is Linux's; other systems leave it unset.";
        }
    }
}
