package peers

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// AppendPlot draws durable events per second against writers for every
// store, both axes logarithmic, with each point's min–max as an error bar,
// and writes it to w in format ("svg" or "png").
func AppendPlot(res *Results, w io.Writer, format string) error {
	p := plot.New()
	p.Title.Text = "Durable appends: events/s by concurrent writers"
	p.X.Label.Text = "concurrent writers"
	p.Y.Label.Text = "events/s (log scale)"
	p.X.Scale = plot.LogScale{}
	p.Y.Scale = plot.LogScale{}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.XOffs = vg.Points(12)
	p.Legend.YOffs = -vg.Points(14)
	p.Add(plotter.NewGrid())

	var xticks plot.ConstantTicks
	for _, wr := range res.Settings.Writers {
		xticks = append(xticks, plot.Tick{Value: float64(wr), Label: strconv.Itoa(wr)})
	}
	p.X.Tick.Marker = xticks

	lo, hi := math.Inf(1), math.Inf(-1)
	for i, eng := range res.Engines {
		rows := res.Durable[eng.Name]
		var xys plotter.XYs
		var errs plotter.YErrors
		for _, wr := range res.Settings.Writers {
			s := rows[wr].Rate
			if s.Median <= 0 {
				continue
			}
			xys = append(xys, plotter.XY{X: float64(wr), Y: s.Median})
			errs = append(errs, struct{ Low, High float64 }{s.Median - s.Min, s.Max - s.Median})
			lo, hi = math.Min(lo, s.Min), math.Max(hi, s.Max)
		}
		if len(xys) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return fmt.Errorf("plot %s: %w", eng.Name, err)
		}
		line.Color = plotutil.Color(i)
		line.Width = vg.Points(1.5)
		points.Color = plotutil.Color(i)
		points.Shape = plotutil.Shape(i)
		points.Radius = vg.Points(3)
		bars, err := plotter.NewYErrorBars(struct {
			plotter.XYs
			plotter.YErrors
		}{xys, errs})
		if err != nil {
			return fmt.Errorf("plot %s: %w", eng.Name, err)
		}
		bars.Color = plotutil.Color(i)
		p.Add(line, points, bars)
		p.Legend.Add(eng.Name, line, points)
	}
	if math.IsInf(lo, 1) {
		return fmt.Errorf("plot: no durable append results")
	}
	// The machine's fdatasyncs per second: the ceiling of one durable
	// writer, which group commit exists to break through.
	if f := res.Limits.Fdatasync.Median; f > 0 {
		ws := res.Settings.Writers
		ceiling, err := plotter.NewLine(plotter.XYs{{X: float64(ws[0]), Y: f}, {X: float64(ws[len(ws)-1]), Y: f}})
		if err != nil {
			return fmt.Errorf("plot: %w", err)
		}
		ceiling.Color = color.Gray{Y: 110}
		ceiling.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(ceiling)
		p.Legend.Add("fdatasyncs/s of the machine", ceiling)
		lo, hi = math.Min(lo, f), math.Max(hi, f)
	}
	p.Y.Tick.Marker = logTicks(lo, hi)
	// Leave room above the highest point for the legend.
	p.Y.Min, p.Y.Max = math.Pow(10, math.Floor(math.Log10(lo))), math.Pow(10, math.Ceil(math.Log10(hi*3)))
	p.X.Min, p.X.Max = float64(res.Settings.Writers[0])/1.3, float64(res.Settings.Writers[len(res.Settings.Writers)-1])*1.3

	wt, err := p.WriterTo(7*vg.Inch, 4.5*vg.Inch, format)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	_, err = wt.WriteTo(w)
	return err
}

// logTicks labels each power of ten between lo and hi (1k, 10k, 1M) and
// marks the values between them.
func logTicks(lo, hi float64) plot.ConstantTicks {
	var ticks plot.ConstantTicks
	first, last := int(math.Floor(math.Log10(lo))), int(math.Ceil(math.Log10(hi*3)))
	for e := first; e <= last; e++ {
		v := math.Pow(10, float64(e))
		ticks = append(ticks, plot.Tick{Value: v, Label: siLabel(v)})
		if e == last {
			break
		}
		for m := 2; m < 10; m++ {
			ticks = append(ticks, plot.Tick{Value: v * float64(m)})
		}
	}
	return ticks
}

func siLabel(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
