package money

import (
	"encoding/json"
	"math"
	"testing"
)

func TestDollars(t *testing.T) {
	cases := []struct {
		in   float64
		want Amount
		ok   bool
	}{
		{0, 0, true},
		{1.5, 1_500_000, true},
		{0.1 + 0.2, 300_000, true}, // rounding, not truncation
		{19.999999, 19_999_999, true},
		{-2.25, -2_250_000, true},
		{math.NaN(), 0, false},
		{math.Inf(1), 0, false},
		{1e13, 0, false},
	}
	for _, c := range cases {
		got, err := Dollars(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("Dollars(%v): got %d, %v; want %d, ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestJSON(t *testing.T) {
	for _, c := range []struct {
		a    Amount
		json string
	}{{0, "0"}, {1_500_000, "1.5"}, {250_000_000, "250"}, {1, "0.000001"}, {-2_250_000, "-2.25"}} {
		b, err := json.Marshal(c.a)
		if err != nil || string(b) != c.json {
			t.Errorf("marshal %d: got %s, %v; want %s", c.a, b, err, c.json)
		}
		var back Amount
		if err := json.Unmarshal(b, &back); err != nil || back != c.a {
			t.Errorf("round trip %s: got %d, %v", b, back, err)
		}
	}
	var a Amount
	if err := json.Unmarshal([]byte(`"5"`), &a); err == nil {
		t.Error("a string amount was accepted")
	}
}
