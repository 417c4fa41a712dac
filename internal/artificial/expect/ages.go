package expect

// ukAgeBands is the population of the United Kingdom at mid-2018 by age, in
// thousands, as Haven's own rounded transcription of the Office for National
// Statistics' mid-year population estimates (MYE2, "Population estimates for
// the UK, England and Wales, Scotland and Northern Ireland: mid-2018",
// published June 2019). The total, about 66.4 million, matches the published
// UK total; individual bands were transcribed to the nearest thousand and
// should be checked against the ONS table before anyone relies on them for
// more than plausible dummy ages. Each band covers five single years except
// the last, which covers 100 and over and is spread over ages 100 to 109.
var ukAgeBands = []struct {
	from, to  int // single years, inclusive
	thousands int64
}{
	{0, 4, 3914},
	{5, 9, 4131},
	{10, 14, 3806},
	{15, 19, 3694},
	{20, 24, 4155},
	{25, 29, 4511},
	{30, 34, 4446},
	{35, 39, 4236},
	{40, 44, 4036},
	{45, 49, 4583},
	{50, 54, 4716},
	{55, 59, 4287},
	{60, 64, 3699},
	{65, 69, 3417},
	{70, 74, 3267},
	{75, 79, 2292},
	{80, 84, 1663},
	{85, 89, 1005},
	{90, 94, 443},
	{95, 99, 132},
	{100, 109, 14},
}

// MaxAge is the oldest age population_ages gives.
const MaxAge = 109

// ageWeights returns integer weights for ages 0 to MaxAge: each band's
// population spread evenly over its single years. Weights are the band count
// times 2520/years (2520 is divisible by every band width up to 10), so the
// spreading is exact.
func ageWeights() []int64 {
	w := make([]int64, MaxAge+1)
	for _, b := range ukAgeBands {
		years := int64(b.to - b.from + 1)
		for a := b.from; a <= b.to; a++ {
			w[a] = b.thousands * (2520 / years)
		}
	}
	return w
}
