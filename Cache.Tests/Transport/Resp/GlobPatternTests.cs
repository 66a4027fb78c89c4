using System.Text;
using Cache.Transport.Resp;

namespace Cache.Tests.Transport.Resp;

public class GlobPatternTests
{
    [Theory]
    [InlineData("*", "anything", true)]
    [InlineData("*", "", true)]
    [InlineData("user:*", "user:42", true)]
    [InlineData("user:*", "users:42", false)]
    [InlineData("h?llo", "hello", true)]
    [InlineData("h?llo", "hllo", false)]
    [InlineData("h[ae]llo", "hallo", true)]
    [InlineData("h[ae]llo", "hillo", false)]
    [InlineData("h[^e]llo", "hallo", true)]
    [InlineData("h[^e]llo", "hello", false)]
    [InlineData("h[a-c]llo", "hbllo", true)]
    [InlineData("h\\*llo", "h*llo", true)]
    [InlineData("h\\*llo", "hello", false)]
    [InlineData("*a*b", "xxaxxbxxb", true)]
    [InlineData("a*b*c", "abxbc", true)]
    [InlineData("a*b*c", "abxbd", false)]
    [InlineData("**x", "yyx", true)]
    public void Matches_as_redis_does(string pattern, string text, bool expected)
    {
        Assert.Equal(expected, GlobPattern.IsMatch(Encoding.ASCII.GetBytes(pattern), Encoding.ASCII.GetBytes(text)));
    }

    [Fact]
    public void A_pattern_of_many_stars_is_not_exponential()
    {
        var pattern = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("*a", 30)) + "*b");
        var text = Encoding.ASCII.GetBytes(new string('a', 2000));
        Assert.False(GlobPattern.IsMatch(pattern, text, ignoreCase: false, out var steps));

        // Backtracking over every star would take on the order of 2000^30 steps; one star at a time is bounded by the product.
        Assert.InRange(steps, 1, (pattern.Length + 1L) * (text.Length + 1L));
    }
}
