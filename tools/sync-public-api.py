#!/usr/bin/env python3
"""Builds the solution and brings each project's PublicAPI.Unshipped.txt in line with its public surface:
symbols the build reports as RS0016 (public, undeclared) are added, RS0017 (declared, gone) removed.
Usage: tools/sync-public-api.py [repository root]. Review the diff: a symbol added here is a promise."""
import re, subprocess, sys, collections
root = sys.argv[1] if len(sys.argv) > 1 else '.'
for round in range(4):
    out = subprocess.run(['dotnet', 'build', root + '/Cache.slnx'], capture_output=True, text=True).stdout
    add = collections.defaultdict(set); rem = collections.defaultdict(set)
    for line in out.splitlines():
        m = re.search(r"^(/[^()]+?)/[^/]+\.cs\(\d+,\d+\): error RS0016: Symbol '(.*)' is not part of the declared public API", line)
        if m:
            proj = re.search(r'\[(.*)/[^/]+\.csproj\]', line).group(1); add[proj].add(m.group(2)); continue
        m = re.search(r"error RS0017: Symbol '(.*)' is part of the declared API, but is either not public or could not be found", line)
        if m:
            proj = re.search(r'\[(.*)/[^/]+\.csproj\]', line).group(1); rem[proj].add(m.group(1))
    if not add and not rem:
        print('public API in sync'); break
    for proj in set(add) | set(rem):
        for name in ['PublicAPI.Shipped.txt', 'PublicAPI.Unshipped.txt']:
            p = f'{proj}/{name}'
            lines = open(p).read().splitlines()
            head, body = lines[0], set(lines[1:])
            body -= rem[proj]
            if name.endswith('Unshipped.txt'):
                body |= add[proj]
            open(p, 'w').write('\n'.join([head] + sorted(x for x in body if x.strip())) + '\n')
        print(proj, '+', len(add[proj]), '-', len(rem[proj]))
