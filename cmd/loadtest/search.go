package main

import "math"

// rateSearch finds the highest rate that meets the goal (-max): it climbs
// by a factor until a step fails, then bisects between the last rate that
// passed and the first that failed. Each step is a separate attack, so the
// answer is "held for a whole step", not a momentary peak.
type rateSearch struct {
	factor     float64
	bisectLeft int
	limit      int // never attack above this
	minGap     int // stop bisecting when pass and fail are this close

	cur, pass, fail int // fail 0: no step has failed yet
}

func newRateSearch(start int, factor float64, bisect, limit int) *rateSearch {
	if factor <= 1 {
		factor = 1.5
	}
	return &rateSearch{factor: factor, bisectLeft: bisect, limit: limit, minGap: max(2, start/20), cur: min(max(start, 1), limit)}
}

// rate is the rate to attack at next.
func (s *rateSearch) rate() int { return s.cur }

// record takes the verdict of the step at rate() and reports whether the
// search is over.
func (s *rateSearch) record(ok bool) (done bool) {
	if ok {
		s.pass = s.cur
	} else {
		s.fail = s.cur
	}
	if s.fail == 0 { // still climbing
		if s.cur >= s.limit {
			return true
		}
		next := int(math.Ceil(float64(s.cur) * s.factor))
		s.cur = min(max(next, s.cur+1), s.limit)
		return false
	}
	if s.pass == 0 || s.bisectLeft <= 0 || s.fail-s.pass <= s.minGap {
		return true
	}
	s.bisectLeft--
	s.cur = (s.pass + s.fail) / 2
	return false
}

// best is the highest rate that passed, 0 if none did.
func (s *rateSearch) best() int { return s.pass }
