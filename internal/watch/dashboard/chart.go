package dashboard

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// chart is the history chart, laid out on the server as inline SVG: step
// lines of exposed and protected endpoints after each run.
type chart struct {
	W, H                   int
	Left, Top, Right, Bott int
	Exposed, Protected     string // polyline points
	Dots                   []chartDot
	YTicks                 []chartTick
	XTicks                 []chartTick
	Max                    int
	Points                 int
	Last                   historyPoint
}

type chartDot struct {
	X, Y  string
	Title string
}

type chartTick struct {
	Pos   string
	Label string
	// Align is the CSS class that anchors the label: "start", "middle"
	// or "end" (the outer labels stay inside the canvas).
	Align string
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

// newChart lays out points (oldest first) on a w x h canvas.
func newChart(points []historyPoint, w, h int) *chart {
	c := &chart{W: w, H: h, Left: 44, Top: 12, Right: w - 16, Bott: h - 28, Points: len(points)}
	if len(points) == 0 {
		return c
	}
	c.Last = points[len(points)-1]
	for _, p := range points {
		c.Max = max(c.Max, p.Exposed, p.Protected)
	}
	top := niceMax(c.Max)
	t0, t1 := points[0].Time, points[len(points)-1].Time
	span := t1.Sub(t0)
	xOf := func(t time.Time) float64 {
		if span <= 0 {
			return float64(c.Left+c.Right) / 2
		}
		return float64(c.Left) + float64(c.Right-c.Left)*float64(t.Sub(t0))/float64(span)
	}
	yOf := func(n int) float64 {
		return float64(c.Bott) - float64(c.Bott-c.Top)*float64(n)/float64(top)
	}
	step := func(val func(historyPoint) int) string {
		var b strings.Builder
		for i, p := range points {
			x, y := xOf(p.Time), yOf(val(p))
			if i > 0 {
				fmt.Fprintf(&b, " %s,%s", num(x), num(yOf(val(points[i-1]))))
			}
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%s,%s", num(x), num(y))
		}
		if len(points) == 1 || span <= 0 {
			// One instant: draw a short level line so it is visible.
			y := yOf(val(points[len(points)-1]))
			fmt.Fprintf(&b, " %s,%s", num(float64(c.Right)), num(y))
			return fmt.Sprintf("%s,%s ", num(float64(c.Left)), num(y)) + b.String()
		}
		return b.String()
	}
	c.Exposed = step(func(p historyPoint) int { return p.Exposed })
	c.Protected = step(func(p historyPoint) int { return p.Protected })
	// Dots only where they stay readable.
	if len(points) <= 120 {
		for _, p := range points {
			c.Dots = append(c.Dots, chartDot{X: num(xOf(p.Time)), Y: num(yOf(p.Exposed)),
				Title: fmt.Sprintf("%s (run %d, %s): %d exposed, %d protected",
					p.Time.Format("2006-01-02 15:04:05Z"), p.RunID, p.Group, p.Exposed, p.Protected)})
		}
	}
	for _, n := range yTicks(top) {
		c.YTicks = append(c.YTicks, chartTick{Pos: num(yOf(n)), Label: strconv.Itoa(n)})
	}
	layout := "2006-01-02 15:04"
	if span > 0 && span < 24*time.Hour && t0.YearDay() == t1.YearDay() {
		layout = "15:04:05"
	}
	if span <= 0 {
		c.XTicks = append(c.XTicks, chartTick{Pos: num(xOf(t0)), Label: t0.Format(layout), Align: "middle"})
	} else {
		c.XTicks = append(c.XTicks, chartTick{Pos: num(xOf(t0)), Label: t0.Format(layout), Align: "start"},
			chartTick{Pos: num(xOf(t1)), Label: t1.Format(layout), Align: "end"})
	}
	return c
}

// niceMax rounds the top of the y axis up to 1, 2 or 5 times a power of ten.
func niceMax(n int) int {
	if n < 1 {
		return 1
	}
	p := 1
	for {
		for _, m := range []int{1, 2, 5} {
			if n <= m*p {
				return m * p
			}
		}
		p *= 10
	}
}

// yTicks returns up to six tick values from 0 to top.
func yTicks(top int) []int {
	step := max(1, niceMax(top/5))
	var out []int
	for v := 0; v <= top; v += step {
		out = append(out, v)
	}
	return out
}
