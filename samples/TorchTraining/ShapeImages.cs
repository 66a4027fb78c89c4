using SkiaSharp;

namespace TorchTraining;

/// <summary>
/// Makes the example's data set: JPEG files of one of four shapes (circle, square, triangle, cross) in a
/// random colour, size, position and rotation on a noisy gradient, so that a small network has something
/// to learn. Nothing is downloaded. The files are made once per (count, size, seed) and reused.
/// </summary>
internal static class ShapeImages
{
    public const int Classes = 4;

    /// <summary>The directory holding the images, made first if needed; file i is <c>{i:D6}_{label}.jpg</c>.</summary>
    public static string[] Ensure(string root, int count, int size, int seed)
    {
        var directory = Path.Combine(root, $"shapes-{count}-{size}px-seed{seed}");
        var marker = Path.Combine(directory, "complete");
        if (!File.Exists(marker))
        {
            var partial = directory + ".partial-" + Environment.ProcessId;
            Directory.CreateDirectory(partial);
            Parallel.For(0, count, i => Write(Path.Combine(partial, FileName(i, Label(i, seed))), i, size, seed));
            File.WriteAllText(Path.Combine(partial, "complete"), $"{count}\n");
            try
            {
                Directory.Move(partial, directory);
            }
            catch (IOException) when (File.Exists(marker))
            {
                // Another rank made them at the same time.
                Directory.Delete(partial, recursive: true);
            }
        }

        return [.. Enumerable.Range(0, count).Select(i => Path.Combine(directory, FileName(i, Label(i, seed))))];
    }

    public static int LabelOf(string path) => Path.GetFileNameWithoutExtension(path)[^1] - '0';

    // Seeded Random(int) is the same in every process (HashCode.Combine is not: it is randomized per process).
    private static int Label(int index, int seed) => new Random(unchecked((seed * 1_000_003) + (2 * index))).Next(Classes);

    private static string FileName(int index, int label) => $"{index:D6}_{label}.jpg";

    private static void Write(string path, int index, int size, int seed)
    {
        var random = new Random(unchecked((seed * 1_000_003) + (2 * index) + 1));
        var label = Label(index, seed);
        using var surface = SKSurface.Create(new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Premul));
        var canvas = surface.Canvas;
        using (var background = new SKPaint())
        {
            background.Shader = SKShader.CreateLinearGradient(
                new SKPoint(0, 0), new SKPoint(size, size),
                [RandomColor(random, 40, 120), RandomColor(random, 40, 120)], SKShaderTileMode.Clamp);
            canvas.DrawRect(0, 0, size, size, background);
        }

        using (var speckle = new SKPaint { IsAntialias = false })
        {
            for (var k = 0; k < size * 2; k++)
            {
                speckle.Color = RandomColor(random, 0, 255).WithAlpha(90);
                canvas.DrawCircle(random.Next(size), random.Next(size), 1 + random.Next(3), speckle);
            }
        }

        var radius = size * (0.18f + (0.17f * random.NextSingle()));
        var cx = radius + ((size - (2 * radius)) * random.NextSingle());
        var cy = radius + ((size - (2 * radius)) * random.NextSingle());
        using var paint = new SKPaint { IsAntialias = true, Color = RandomColor(random, 150, 255), Style = SKPaintStyle.Fill };
        canvas.Save();
        canvas.RotateDegrees(360 * random.NextSingle(), cx, cy);
        switch (label)
        {
            case 0:
                canvas.DrawCircle(cx, cy, radius, paint);
                break;
            case 1:
                canvas.DrawRect(cx - radius, cy - radius, 2 * radius, 2 * radius, paint);
                break;
            case 2:
                using (var triangle = new SKPath())
                {
                    triangle.MoveTo(cx, cy - radius);
                    triangle.LineTo(cx + (radius * 0.87f), cy + (radius * 0.5f));
                    triangle.LineTo(cx - (radius * 0.87f), cy + (radius * 0.5f));
                    triangle.Close();
                    canvas.DrawPath(triangle, paint);
                }

                break;
            default:
                canvas.DrawRect(cx - radius, cy - (radius / 4), 2 * radius, radius / 2, paint);
                canvas.DrawRect(cx - (radius / 4), cy - radius, radius / 2, 2 * radius, paint);
                break;
        }

        canvas.Restore();
        using var image = surface.Snapshot();
        using var jpeg = image.Encode(SKEncodedImageFormat.Jpeg, 90);
        using var file = File.Create(path);
        jpeg.SaveTo(file);
    }

    private static SKColor RandomColor(Random random, int low, int high) =>
        new((byte)random.Next(low, high), (byte)random.Next(low, high), (byte)random.Next(low, high));
}
