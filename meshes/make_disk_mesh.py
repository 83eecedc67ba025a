#!/usr/bin/env -S /usr/bin/python3
"""Write meshes/disk.msh: a quadrilateral mesh of the disk of radius 6 centred at 0.

Gmsh ASCII format 2.2, standard library only. The mesh is a "squircle" layout:

  * a central square [-a, a]^2 (a = 3 by default) split into n x n equal quads;
  * four trapezoidal blocks between the sides of the square and the circle,
    each with n quads along the side and m quads in the radial direction.

The outer vertices lie on the circle (radial projection of the square's boundary
vertices); the vertices in between are linear blends of the two, so every cell
is a straight-sided convex quadrilateral with counter-clockwise vertex order
(positive Jacobian; checked before writing).

Elements:
  type 3 (4-node quad), physical tag 0 -> deal.II material id 0;
  type 1 (2-node line) on the circle, physical tag 1 -> deal.II boundary id 1.

Usage: make_disk_mesh.py [--radius R] [--half-width A] [-n N] [-m M] [-o FILE]
Defaults: R = 6, A = 3, N = 8, M = 4 (64 + 4*32 = 192 quads), FILE = disk.msh
next to this script.
"""

import argparse
import math
import os
import sys


def build(radius, half_width, n, m):
    """Return (nodes, quads, lines): nodes as [(x, y)], cells as 0-based node indices."""
    if not 0 < half_width < radius / math.sqrt(2.0):
        raise ValueError("need 0 < half-width < radius / sqrt(2) so the square is inside the disk")
    if n < 1 or m < 1:
        raise ValueError("n and m must be positive")

    nodes = []
    index = {}

    def node(x, y):
        # Vertices shared between blocks are generated more than once: merge them.
        key = (round(x, 9) + 0.0, round(y, 9) + 0.0)
        if key not in index:
            index[key] = len(nodes)
            nodes.append((x, y))
        return index[key]

    quads, lines = [], []

    # Central square: n x n quads, CCW (x first, then y).
    h = 2.0 * half_width / n
    grid = [[node(-half_width + i * h, -half_width + j * h) for i in range(n + 1)]
            for j in range(n + 1)]
    for j in range(n):
        for i in range(n):
            quads.append((grid[j][i], grid[j][i + 1], grid[j + 1][i + 1], grid[j + 1][i]))

    # Four outer blocks: side 0 is x = a, the others are rotations by 90 degrees.
    for side in range(4):
        c, s = math.cos(side * math.pi / 2), math.sin(side * math.pi / 2)
        ring = []  # ring[k][i]: k radial (0 on the square, m on the circle), i tangential
        for k in range(m + 1):
            t = k / m
            row = []
            for i in range(n + 1):
                px, py = half_width, -half_width + i * h  # on the square side x = a
                r = math.hypot(px, py)
                qx, qy = radius * px / r, radius * py / r  # radial projection on the circle
                x, y = (1 - t) * px + t * qx, (1 - t) * py + t * qy
                row.append(node(c * x - s * y, s * x + c * y))
            ring.append(row)
        for k in range(m):
            for i in range(n):
                # radial direction then tangential (counter-clockwise) direction
                quads.append((ring[k][i], ring[k + 1][i], ring[k + 1][i + 1], ring[k][i + 1]))
        for i in range(n):
            lines.append((ring[m][i], ring[m][i + 1]))  # along the circle, CCW
    return nodes, quads, lines


def check(nodes, quads, lines, radius):
    for q in quads:
        for corner in range(4):
            a, b, c = (nodes[q[(corner + d) % 4]] for d in (-1, 0, 1))
            # cross product of the two edges at this corner: > 0 for convex CCW
            cross = (c[0] - b[0]) * (a[1] - b[1]) - (c[1] - b[1]) * (a[0] - b[0])
            if cross <= 0:
                raise RuntimeError("quad %s is not convex/counter-clockwise" % (q,))
    # every boundary edge (used by one quad only) must be a line element, and vice versa
    count = {}
    for q in quads:
        for e in range(4):
            key = tuple(sorted((q[e], q[(e + 1) % 4])))
            count[key] = count.get(key, 0) + 1
    boundary = {k for k, v in count.items() if v == 1}
    if boundary != {tuple(sorted(l)) for l in lines}:
        raise RuntimeError("boundary line elements do not match the boundary of the mesh")
    for l in lines:
        for v in l:
            if abs(math.hypot(*nodes[v]) - radius) > 1e-9 * radius:
                raise RuntimeError("boundary vertex not on the circle")


def write_msh(path, nodes, quads, lines):
    with open(path, "w") as f:
        f.write("$MeshFormat\n2.2 0 8\n$EndMeshFormat\n")
        f.write("$Nodes\n%d\n" % len(nodes))
        for i, (x, y) in enumerate(nodes, start=1):
            f.write("%d %.17g %.17g 0\n" % (i, x, y))
        f.write("$EndNodes\n")
        f.write("$Elements\n%d\n" % (len(lines) + len(quads)))
        e = 0
        # elm-number elm-type number-of-tags physical-tag elementary-tag node-number-list
        for a, b in lines:
            e += 1
            f.write("%d 1 2 1 1 %d %d\n" % (e, a + 1, b + 1))
        for q in quads:
            e += 1
            f.write("%d 3 2 0 1 %d %d %d %d\n" % ((e,) + tuple(v + 1 for v in q)))
        f.write("$EndElements\n")


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--radius", type=float, default=6.0)
    ap.add_argument("--half-width", type=float, default=3.0,
                    help="half the side of the central square (default 3)")
    ap.add_argument("-n", type=int, default=8, help="quads along each side of the square")
    ap.add_argument("-m", type=int, default=4, help="quads in the radial direction of each outer block")
    ap.add_argument("-o", "--output", default=os.path.join(here, "disk.msh"))
    args = ap.parse_args(argv)
    nodes, quads, lines = build(args.radius, args.half_width, args.n, args.m)
    check(nodes, quads, lines, args.radius)
    write_msh(args.output, nodes, quads, lines)
    print("%s: %d nodes, %d quads, %d boundary lines" % (args.output, len(nodes), len(quads), len(lines)))


if __name__ == "__main__":
    main(sys.argv[1:])
