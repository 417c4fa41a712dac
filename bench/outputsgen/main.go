// Command outputsgen writes synthetic CSV outputs for bench/outputs.sh,
// the benchmark of `haven outputs check`: one large aggregated-looking
// table, and a folder of small tables. The same flags and seed give the
// same bytes.
//
//	go run ./bench/outputsgen -big big.csv -mb 150
//	go run ./bench/outputsgen -tables dir -n 1000
//
// The large table has four label and key columns (region, age_band,
// month as YYYY-MM, sex), eight count columns (patients, cases, deaths,
// admissions, registered, vaccinated, events, referrals) and one percent
// column, pct_vaccinated = 100 · vaccinated / registered to one decimal,
// computed from the values shown. Count cells are multiples of 5 (10 and
// above), except a share -small of small values (1–7), a share -unrounded
// of values that are not multiples of 5 (8 and above) and a share -zeros
// of zeros. The small tables (-n of them, 5–30 rows, 2–6 columns each)
// are drawn from the same vocabulary with the same shares.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
)

var (
	regions   = []string{"East of England", "London", "Midlands", "North East and Yorkshire", "North West", "South East", "South West"}
	ageBands  = []string{"0-4", "5-9", "10-14", "15-19", "20-24", "25-29", "30-34", "35-39", "40-44", "45-49", "50-54", "55-59", "60-64", "65-69", "70-74", "75-79", "80-84", "85-89", "90+"}
	sexes     = []string{"female", "male", "unknown"}
	countCols = []string{"patients", "cases", "deaths", "admissions", "registered", "vaccinated", "events", "referrals"}
	// scale is each count column's typical size (the rounded values are
	// drawn up to about this).
	scale = map[string]int{"patients": 20000, "cases": 3000, "deaths": 400, "admissions": 1500, "registered": 25000, "vaccinated": 0, "events": 6000, "referrals": 900}
)

// gen draws cells.
type gen struct {
	r                       *rand.Rand
	small, unrounded, zeros float64
}

// rounded is a multiple of 5 from 10 to about max.
func (g *gen) rounded(top int) int {
	return 5 * (2 + g.r.IntN(top/5))
}

// perturb replaces a rounded count, with the configured shares, by a small
// value, an unrounded value or a zero.
func (g *gen) perturb(v int) int {
	x := g.r.Float64()
	switch {
	case x < g.small:
		return 1 + g.r.IntN(7)
	case x < g.small+g.unrounded:
		return v + 1 + g.r.IntN(4) // not a multiple of 5, and 11 or more
	case x < g.small+g.unrounded+g.zeros:
		return 0
	}
	return v
}

// month is YYYY-MM, i months after 2000-01, cycling through 2000-2025.
func month(i int) string {
	i %= 26 * 12
	return fmt.Sprintf("%04d-%02d", 2000+i/12, 1+i%12)
}

// writeBig writes the large table until it holds at least size bytes, and
// returns the rows and bytes written.
func writeBig(path string, size int64, g *gen) (rows int, n int64, err error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var buf []byte
	buf = append(buf, "region,age_band,month,sex"...)
	for _, c := range countCols {
		buf = append(buf, ',')
		buf = append(buf, c...)
	}
	buf = append(buf, ",pct_vaccinated\n"...)
	vals := make([]int, len(countCols))
	for m := 0; n < size; m++ {
		mo := month(m)
		for _, reg := range regions {
			for _, age := range ageBands {
				for _, sex := range sexes {
					if n >= size {
						break
					}
					for i, c := range countCols {
						switch c {
						case "vaccinated": // a share of registered, rounded
							top := max(vals[4], 10)
							vals[i] = 5 * (2 + g.r.IntN(top/5-1))
						default:
							vals[i] = g.rounded(scale[c])
						}
					}
					for i := range vals {
						vals[i] = g.perturb(vals[i])
					}
					buf = append(buf, reg...)
					buf = append(buf, ',')
					buf = append(buf, age...)
					buf = append(buf, ',')
					buf = append(buf, mo...)
					buf = append(buf, ',')
					buf = append(buf, sex...)
					for _, v := range vals {
						buf = append(buf, ',')
						buf = strconv.AppendInt(buf, int64(v), 10)
					}
					buf = append(buf, ',')
					if vals[4] > 0 {
						buf = strconv.AppendFloat(buf, 100*float64(vals[5])/float64(vals[4]), 'f', 1, 64)
					}
					buf = append(buf, '\n')
					if _, err := w.Write(buf); err != nil {
						f.Close()
						return rows, n, err
					}
					n += int64(len(buf))
					buf = buf[:0]
					rows++
				}
			}
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return rows, n, err
	}
	return rows, n, f.Close()
}

// writeTables writes count small tables into dir, as table_0001.csv and
// on, and returns the bytes written.
func writeTables(dir string, count int, g *gen) (int64, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	var total int64
	for t := 1; t <= count; t++ {
		ncols := 2 + g.r.IntN(5)  // 2-6
		nrows := 5 + g.r.IntN(26) // 5-30
		// One or two label/key columns, the rest counts (and, in tables of
		// four columns or more, sometimes a percent of two of them).
		nkeys := 1
		if ncols >= 4 && g.r.IntN(2) == 0 {
			nkeys = 2
		}
		keyNames := []string{"region", "age_band", "month", "sex"}
		g.r.Shuffle(len(keyNames), func(i, j int) { keyNames[i], keyNames[j] = keyNames[j], keyNames[i] })
		keys := keyNames[:nkeys]
		ncounts := ncols - nkeys
		pct := ncounts >= 3 && g.r.IntN(3) == 0
		if pct {
			ncounts--
		}
		perm := g.r.Perm(len(countCols))
		counts := make([]string, ncounts)
		for i := range counts {
			counts[i] = countCols[perm[i]]
		}
		var buf []byte
		for i, k := range keys {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, k...)
		}
		for _, c := range counts {
			buf = append(buf, ',')
			buf = append(buf, c...)
		}
		if pct {
			buf = append(buf, ",pct_"...)
			buf = append(buf, counts[0]...)
		}
		buf = append(buf, '\n')
		vals := make([]int, ncounts)
		for r := 0; r < nrows; r++ {
			for i, k := range keys {
				if i > 0 {
					buf = append(buf, ',')
				}
				switch k {
				case "region":
					buf = append(buf, regions[(r+t)%len(regions)]...)
				case "age_band":
					buf = append(buf, ageBands[(r+t)%len(ageBands)]...)
				case "month":
					buf = append(buf, month(r+t)...)
				case "sex":
					buf = append(buf, sexes[(r+t)%len(sexes)]...)
				}
			}
			for i, c := range counts {
				top := scale[c]
				if top == 0 {
					top = 8000
				}
				vals[i] = g.perturb(g.rounded(top))
				buf = append(buf, ',')
				buf = strconv.AppendInt(buf, int64(vals[i]), 10)
			}
			if pct {
				buf = append(buf, ',')
				if vals[1] > 0 {
					buf = strconv.AppendFloat(buf, 100*float64(vals[0])/float64(vals[1]), 'f', 1, 64)
				}
			}
			buf = append(buf, '\n')
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("table_%04d.csv", t)), buf, 0o644); err != nil {
			return total, err
		}
		total += int64(len(buf))
	}
	return total, nil
}

func main() {
	big := flag.String("big", "", "write the large table to this file")
	mb := flag.Float64("mb", 150, "size of the large table in MB (10^6 bytes)")
	tables := flag.String("tables", "", "write the small tables into this folder")
	n := flag.Int("n", 1000, "number of small tables")
	seed := flag.Uint64("seed", 1, "random seed")
	small := flag.Float64("small", 0.005, "share of count cells holding a small value (1-7)")
	unrounded := flag.Float64("unrounded", 0.005, "share of count cells holding a value that is not a multiple of 5")
	zeros := flag.Float64("zeros", 0.005, "share of count cells holding a zero")
	flag.Parse()
	if *big == "" && *tables == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: outputsgen [-big FILE [-mb 150]] [-tables DIR [-n 1000]] [-seed 1] [-small 0.005] [-unrounded 0.005] [-zeros 0.005]")
		os.Exit(2)
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "outputsgen:", err)
		os.Exit(1)
	}
	if *big != "" {
		g := &gen{r: rand.New(rand.NewPCG(*seed, 1)), small: *small, unrounded: *unrounded, zeros: *zeros}
		rows, bytes, err := writeBig(*big, int64(*mb*1e6), g)
		if err != nil {
			fail(err)
		}
		fmt.Fprintf(os.Stderr, "outputsgen: %s: %d data rows, %d bytes\n", *big, rows, bytes)
	}
	if *tables != "" {
		g := &gen{r: rand.New(rand.NewPCG(*seed, 2)), small: *small, unrounded: *unrounded, zeros: *zeros}
		bytes, err := writeTables(*tables, *n, g)
		if err != nil {
			fail(err)
		}
		fmt.Fprintf(os.Stderr, "outputsgen: %s: %d tables, %d bytes\n", *tables, *n, bytes)
	}
}
