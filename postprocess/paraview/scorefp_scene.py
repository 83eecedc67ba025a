"""A ParaView scene of a scorefp run: the density at one output time, coloured (or
warped into a surface), with score arrows on top; a PNG and a ParaView state.

Run it with ParaView's Python (Debian's python3-paraview), headless under xvfb:

    xvfb-run -a pvpython postprocess/paraview/scorefp_scene.py output/score-vp-2d \
        --time 0.5 --output scene.png --state scene.pvsm

RUN is a run's output directory (its solution.pvd is read) or a .pvd file. The
state file opens the same view in the ParaView GUI (File → Load State; choose "Search
files under specified directory" if the run has moved).

Fields: --field names the scalar to show (default: `density` if the run wrote it, else
`exact_density`); --vectors the arrows (default: `score` where the run wrote a score
field; for a density run, grad p_h / p_h from ParaView's Gradient filter where
p_h > 1e-3 max p_h, since the quotient is noise where p_h vanishes). --warp S lifts the
surface by S times the field (an oblique camera); without it the view is from above.
"""

import argparse
import os
import sys

from paraview import simple


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="output directory of a run, or a .pvd file")
    parser.add_argument("--time", type=float, default=None,
                        help="output time to show (nearest one; default the last)")
    parser.add_argument("--field", default=None, help="scalar point field to colour by")
    parser.add_argument("--vectors", default=None,
                        help="vector point field for the arrows, or 'none'")
    parser.add_argument("--warp", type=float, default=0.0,
                        help="warp the surface by this factor times the field (0: flat)")
    parser.add_argument("--arrows", type=int, default=400,
                        help="about how many arrows (default 400)")
    parser.add_argument("--output", default=None,
                        help="PNG to write (default RUN/scene.png)")
    parser.add_argument("--state", default=None, help="ParaView state (.pvsm) to write")
    parser.add_argument("--size", default="1200x900", help="picture size WxH in pixels")
    return parser.parse_args(argv)


def fail(message):
    sys.stderr.write("scorefp_scene: %s\n" % message)
    sys.exit(1)


def main(argv):
    args = parse_arguments(argv)
    pvd = os.path.join(args.run, "solution.pvd") if os.path.isdir(args.run) else args.run
    if not os.path.isfile(pvd):
        fail("no %s; expected a run's output directory with solution.pvd (Output/Write VTU "
             "= true) or a .pvd file" % pvd)
    run_directory = os.path.dirname(os.path.abspath(pvd))
    output = args.output or os.path.join(run_directory, "scene.png")
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        fail("--size %s: expected WIDTHxHEIGHT, e.g. 1200x900" % args.size)

    reader = simple.PVDReader(FileName=os.path.abspath(pvd))
    times = list(reader.TimestepValues) if reader.TimestepValues else [0.0]
    time = times[-1] if args.time is None else min(times, key=lambda t: abs(t - args.time))
    reader.UpdatePipeline(time)
    point_data = reader.PointData
    scalars = [a.GetName() for a in point_data if a.GetNumberOfComponents() == 1]
    vectors = [a.GetName() for a in point_data if a.GetNumberOfComponents() == 3]

    field = args.field or next((f for f in ("density", "exact_density") if f in scalars), None)
    if field is None or field not in scalars:
        fail("%s has no scalar point field %s; it has %s"
             % (pvd, repr(args.field or "density"), ", ".join(scalars) or "none"))

    view = simple.CreateView("RenderView")
    view.ViewSize = [width, height]
    view.ViewTime = time
    view.Background = [1, 1, 1]
    view.OrientationAxesVisibility = 0
    try:  # ParaView >= 5.10 draws the background colour only when told to
        view.UseColorPaletteForBackground = 0
    except AttributeError:
        pass

    surface = reader
    if args.warp:
        surface = simple.WarpByScalar(Input=reader, Scalars=["POINTS", field],
                                      ScaleFactor=args.warp)
    display = simple.Show(surface, view)
    simple.ColorBy(display, ("POINTS", field))
    display.RescaleTransferFunctionToDataRange(False, True)
    lut = simple.GetColorTransferFunction(field)
    lut.ApplyPreset("Viridis (matplotlib)", True)
    display.SetScalarBarVisibility(view, True)
    bar = simple.GetScalarBar(lut, view)
    bar.Title = field
    bar.ComponentTitle = ""
    bar.TitleColor = bar.LabelColor = [0, 0, 0]

    vector_field = None if args.vectors == "none" else args.vectors
    arrows_input = reader
    if vector_field is None and args.vectors != "none":
        if "score" in vectors:
            vector_field = "score"
        elif field in scalars:
            # grad p_h / p_h where p_h is not negligible (a density run has no score).
            maximum = reader.PointData[field].GetRange()[1]
            kept = simple.Threshold(Input=reader, Scalars=["POINTS", field])
            try:
                kept.LowerThreshold, kept.UpperThreshold = 1e-3 * maximum, maximum
            except AttributeError:  # ParaView < 5.10
                kept.ThresholdRange = [1e-3 * maximum, maximum]
            gradient = simple.Gradient(Input=kept)
            gradient.ScalarArray = ["POINTS", field]
            gradient.ResultArrayName = "grad_" + field
            quotient = simple.Calculator(Input=gradient, ResultArrayName="grad_log_" + field)
            quotient.Function = "grad_%s/%s" % (field, field)
            arrows_input, vector_field = quotient, "grad_log_" + field
    elif vector_field is not None and vector_field not in vectors:
        fail("%s has no vector point field '%s'; it has %s"
             % (pvd, vector_field, ", ".join(vectors) or "none"))

    if vector_field is not None:
        bounds = reader.GetDataInformation().GetBounds()
        extent = max(bounds[1] - bounds[0], bounds[3] - bounds[2])
        arrows_input.UpdatePipeline(time)
        magnitude = arrows_input.PointData[vector_field].GetRange(-1)[1]
        if args.warp:  # the arrows sit on the warped surface
            arrows_input = simple.WarpByScalar(Input=arrows_input, Scalars=["POINTS", field],
                                               ScaleFactor=args.warp)
        glyph = simple.Glyph(Input=arrows_input, GlyphType="Arrow")
        glyph.OrientationArray = ["POINTS", vector_field]
        glyph.ScaleArray = ["POINTS", vector_field]
        glyph.ScaleFactor = 0.06 * extent / magnitude if magnitude > 0 else 1.0
        glyph.GlyphMode = "Uniform Spatial Distribution (Bounds Based)"
        glyph.MaximumNumberOfSamplePoints = args.arrows
        arrows = simple.Show(glyph, view)
        arrows.ColorArrayName = ["POINTS", ""]  # solid colour
        arrows.AmbientColor = arrows.DiffuseColor = [0.85, 0.1, 0.1]

    label = simple.Text(Text="%s, t = %g%s" % (field, time,
                                             ", arrows: " + vector_field if vector_field else ""))
    text = simple.Show(label, view)
    text.Color = [0, 0, 0]
    text.FontSize = 14
    text.WindowLocation = "Upper Center"

    simple.Render(view)  # the first render resets the camera; adjust it afterwards
    view.ResetCamera()
    camera = view.GetActiveCamera()
    if args.warp:
        camera.Elevation(-55)
        view.ResetCamera()
    camera.Zoom(1.35)  # ResetCamera leaves a wide margin around the mesh
    simple.Render(view)
    simple.SaveScreenshot(output, view, ImageResolution=[width, height])
    print("scene of %s at t = %g: %s" % (pvd, time, output))
    if args.state:
        simple.SaveState(args.state)
        print("ParaView state: %s" % args.state)


if __name__ == "__main__":
    main(sys.argv[1:])
