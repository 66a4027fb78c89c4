using System.Diagnostics;

namespace Cache.Tests.Support;

/// <summary>A fact that is skipped, with the reason, when a Debian package's program (and, for Python, its module) is absent; .ci/run installs it.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class RequiresPackageFactAttribute : FactAttribute
{
    /// <param name="executable">The program, looked up on PATH or as an absolute path.</param>
    /// <param name="package">The Debian package that has it.</param>
    /// <param name="pythonModule">For /usr/bin/python3: a module that must import.</param>
    public RequiresPackageFactAttribute(string executable, string package, string? pythonModule = null)
    {
        var path = Path.IsPathRooted(executable) ? (File.Exists(executable) ? executable : null) : Executables.Find(executable);
        if (path is null)
        {
            Skip = $"{executable} is not installed (apt-get install {package}); .ci/run installs it.";
        }
        else if (pythonModule is not null && !Imports(path, pythonModule))
        {
            Skip = $"{executable} cannot import {pythonModule} (apt-get install {package}); .ci/run installs it.";
        }
    }

    private static bool Imports(string python, string module)
    {
        var info = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("import " + module);
        using var process = Process.Start(info)!;
        process.WaitForExit(30_000);
        return process.HasExited && process.ExitCode == 0;
    }
}
