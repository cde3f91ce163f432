// Package money is an amount type for every price, cost and budget.
package money

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Amount is an amount in integer micro-dollars, so sums never drift; the API
// shows it as a dollar number with at most six decimals.
type Amount int64

// MicrosPerDollar converts dollars to micro-dollars.
const MicrosPerDollar = 1_000_000

// Dollars converts a dollar amount, rejecting what cannot be represented.
func Dollars(d float64) (Amount, error) {
	if math.IsNaN(d) || math.IsInf(d, 0) || math.Abs(d) > 9e12 {
		return 0, fmt.Errorf("amount out of range")
	}
	return Amount(math.Round(d * MicrosPerDollar)), nil
}

func (m Amount) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, float64(m)/MicrosPerDollar, 'f', -1, 64), nil
}

func (m *Amount) UnmarshalJSON(b []byte) error {
	var d float64
	if err := json.Unmarshal(b, &d); err != nil {
		return err
	}
	v, err := Dollars(d)
	if err != nil {
		return err
	}
	*m = v
	return nil
}
