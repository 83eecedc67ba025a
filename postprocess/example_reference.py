#!/usr/bin/env python3
"""Summarise a scorefp reference file: mass, mean and covariance of every snapshot
and, when the run's data is a Gaussian mixture (whose law is known in closed form),
the error of the tabulated grid density. With matplotlib installed, --png FILE also
draws the density of the last snapshot (2D files) or all snapshots (1D files).

    python3 postprocess/example_reference.py output/demo/reference.h5 [--png out.png]
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scorefp_reference import Reference, exact_density  # noqa: E402


def summarise(reference, out=sys.stdout):
    """Print one block per snapshot; return the relative max grid errors (or [])."""
    meta = reference.metadata
    print("%s: %s run, %dD %s, %s, Q%d, %d cells, %d snapshots%s" % (
        reference.path, meta["equation"], reference.dimension, reference.process["Type"],
        reference.data_description,
        reference.degree, len(reference.cells), reference.n_snapshots,
        ", scaled coordinates" if meta["scaled_coordinates"] else ""), file=out)
    errors = []
    for snap in reference:
        print("t = %-10.6g mass = %.12f  mean = %s" % (
            snap.time, snap.mass, np.array2string(snap.mean, precision=6)), file=out)
        print("  covariance = %s" % np.array2string(snap.covariance, precision=6).replace(
            "\n", "\n" + " " * 15), file=out)
        exact = exact_density(reference, snap.time, snap.grid_points())
        if exact is not None:
            error = np.max(np.abs(snap.grid_density.ravel() - exact)) / np.max(np.abs(exact))
            errors.append(error)
            print("  grid density: max |p_h - p| / max p = %.3e (closed-form Gaussian mixture)"
                  % error, file=out)
    return errors


def plot(reference, path):
    """Draw the grid density with matplotlib, if it is installed; return whether it was."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no picture written")
        return False
    fig, ax = plt.subplots(figsize=(6, 5))
    if reference.dimension == 1:
        for snap in reference:
            ax.plot(snap.grid_axes[0], snap.grid_density, label="t = %g" % snap.time)
        ax.set_xlabel("x")
        ax.set_ylabel("p_h")
        ax.legend()
    elif reference.dimension == 2:
        snap = reference.snapshot(-1)
        X0, X1 = snap.grid_mesh()
        image = ax.contourf(X0, X1, snap.grid_density, levels=30)
        fig.colorbar(image, ax=ax, label="p_h")
        ax.set_aspect("equal")
        ax.set_title("t = %g" % snap.time)
    else:
        snap = reference.snapshot(-1)
        ax.imshow(snap.grid_density[:, :, snap.grid_density.shape[2] // 2].T, origin="lower")
        ax.set_title("t = %g, middle slice in x2" % snap.time)
    fig.savefig(path, dpi=120)
    print("wrote %s" % path)
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="reference file (.h5) written with Output/Reference file")
    parser.add_argument("--png", help="draw the grid density into this PNG (needs matplotlib)")
    args = parser.parse_args()
    try:
        reference = Reference(args.file)
    except (OSError, ValueError) as error:
        print("example_reference: error: %s" % error, file=sys.stderr)
        return 1
    with reference:
        summarise(reference)
        if args.png:
            plot(reference, args.png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
