using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Cache.Tests.Architecture;

/// <summary>
/// Keeps the layering of DESIGN.md and Cache.Transport/README.md true: projects and Cache.Transport's folders
/// depend on each other only as the allowed graph says, so a change that adds an upward arrow or a cycle fails
/// here, naming the file and the reference.
/// </summary>
public sealed partial class DependencyGraphTests
{
    /// <summary>What each folder of Cache.Transport may use besides itself and Cache.Engine ("" is the facade at the root).</summary>
    private static readonly Dictionary<string, string[]> AllowedFolders = new()
    {
        ["Common"] = [],
        ["Resp"] = ["Common"],
        ["Resp/Commands"] = ["Resp", "Common"],
        ["Peer"] = ["Common"],
        ["Mesh"] = ["Peer", "Resp", "Resp/Commands", "Common"],
        ["Server"] = ["Mesh", "Peer", "Resp", "Resp/Commands", "Common"],
        ["Redis"] = ["", "Common"],
        [""] = ["Server", "Mesh", "Peer", "Resp", "Resp/Commands", "Common"],
    };

    /// <summary>What each project may reference.</summary>
    private static readonly Dictionary<string, string[]> AllowedProjects = new()
    {
        ["Cache.Engine"] = [],
        ["Cache.Transport"] = ["Cache.Engine"],
        ["Cache.Dataset"] = ["Cache.Transport", "Cache.Engine"],
        ["Cache.TorchSharp"] = ["Cache.Dataset", "Cache.Transport", "Cache.Engine"],
        ["Cache.Node"] = ["Cache.Transport", "Cache.Engine"],
    };

    /// <summary>The facade's public types: visible from every folder without a using (they live in the enclosing namespace).</summary>
    private static readonly string[] FacadeTypes = ["CacheNode", "CacheNodeOptions", "ICacheBackend", "PeerServer"];

    [Fact]
    public void Transport_folders_use_only_the_folders_below_them()
    {
        var transport = Path.Combine(RepoRoot(), "Cache.Transport");
        var violations = new List<string>();
        var files = Directory.EnumerateFiles(transport, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .ToArray();
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            var folder = Path.GetRelativePath(transport, Path.GetDirectoryName(file)!).Replace('\\', '/');
            folder = folder == "." ? "" : folder;
            Assert.True(AllowedFolders.ContainsKey(folder), $"{Path.GetRelativePath(transport, file)}: folder '{folder}' is not in the allowed graph; add it there and to Cache.Transport/README.md.");
            foreach (var used in References(File.ReadAllText(file), folder))
            {
                if (used != folder && !AllowedFolders[folder].Contains(used))
                {
                    violations.Add($"{Path.GetRelativePath(transport, file)} ({Name(folder)}) uses {Name(used)}");
                }
            }
        }

        Assert.True(violations.Count == 0, "Upward or sideways references in Cache.Transport:\n" + string.Join("\n", violations));
    }

    [Fact]
    public void The_allowed_folder_graph_has_no_cycle() => AssertAcyclic(AllowedFolders);

    [Fact]
    public void The_allowed_project_graph_has_no_cycle() => AssertAcyclic(AllowedProjects);

    [Fact]
    public void Projects_reference_only_the_layers_below_them()
    {
        var root = RepoRoot();
        var violations = new List<string>();
        foreach (var project in AllowedProjects.Keys)
        {
            var path = Path.Combine(root, project, project + ".csproj");
            if (!File.Exists(path))
            {
                continue;
            }

            foreach (var reference in XDocument.Load(path).Descendants("ProjectReference"))
            {
                var name = Path.GetFileNameWithoutExtension(reference.Attribute("Include")!.Value.Replace('\\', '/'));
                if (!AllowedProjects[project].Contains(name))
                {
                    violations.Add($"{project} references {name}");
                }
            }
        }

        Assert.True(violations.Count == 0, string.Join("\n", violations));
    }

    [Theory]
    [InlineData("Resp/Commands", "using Cache.Transport.Mesh;\nclass A {}", "Mesh")]
    [InlineData("Peer", "class A { Resp.RespWriter w; }", "Resp")]
    [InlineData("Resp", "class A { CacheNode n; }", "")]
    [InlineData("Peer", "class A { Cache.Transport.Resp.Commands.ServerContext c; }", "Resp/Commands")]
    public void The_checker_sees_a_reference(string folder, string source, string expected) =>
        Assert.Contains(expected, References(source, folder));

    [Fact]
    public void The_checker_ignores_comments_and_longer_names() =>
        Assert.Empty(References("// uses CacheNode and Mesh.X\n/// <see cref=\"CacheNode\"/>\nclass A { PeerServerOptions o; string s = \"CacheNode\"; }", "Resp"));

    /// <summary>The folders a file refers to: by using directive, by qualified name, and by the facade's type names.</summary>
    private static HashSet<string> References(string source, string folder)
    {
        var code = StripCommentsAndStrings(source);
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (Match m in QualifiedName().Matches(code))
        {
            var path = m.Groups[1].Value;
            used.Add(path.StartsWith("Resp.Commands", StringComparison.Ordinal) ? "Resp/Commands" : path.Split('.')[0]);
        }

        foreach (var type in FacadeTypes)
        {
            if (Regex.IsMatch(code, $@"(?<![\w.]){type}(?!\w)"))
            {
                used.Add("");
            }
        }

        used.Remove(folder);
        return used;
    }

    private static string StripCommentsAndStrings(string source)
    {
        var noComments = Regex.Replace(source, @"//[^\n]*|/\*.*?\*/", "", RegexOptions.Singleline);
        return Regex.Replace(noComments, @"@?""(?:[^""\\\n]|\\.)*""(u8)?", "\"\"");
    }

    private static void AssertAcyclic(Dictionary<string, string[]> graph)
    {
        var state = new Dictionary<string, int>();
        bool Visit(string node, Stack<string> path)
        {
            if (state.GetValueOrDefault(node) == 1)
            {
                Assert.Fail("Cycle: " + string.Join(" -> ", path.Reverse().Append(node).Select(Name)));
            }

            if (state.GetValueOrDefault(node) == 2)
            {
                return true;
            }

            state[node] = 1;
            path.Push(node);
            foreach (var next in graph.GetValueOrDefault(node, []))
            {
                Visit(next, path);
            }

            path.Pop();
            state[node] = 2;
            return true;
        }

        foreach (var node in graph.Keys)
        {
            Visit(node, new Stack<string>());
        }
    }

    private static string Name(string folder) => folder.Length == 0 ? "the facade (root)" : folder + "/";

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Cache.slnx")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("Cache.slnx not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Cache.Transport.X or a bare X. (inside Cache.Transport, X. resolves to the sibling namespace), X a folder.</summary>
    [GeneratedRegex(@"(?<![\w])(?:Cache\.Transport\.|(?<![\w.]))((?:Resp\.Commands|Common|Resp|Peer|Mesh|Server|Redis))(?=\s*[.;])")]
    private static partial Regex QualifiedName();
}
