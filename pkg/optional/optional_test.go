package optional

import (
	"encoding/json"
	"testing"
)

func TestThreeStates(t *testing.T) {
	type patch struct {
		Budget Value[float64] `json:"budget"`
	}
	cases := []struct {
		body      string
		set, null bool
		value     float64
		wantErr   bool
	}{
		{`{}`, false, false, 0, false},
		{`{"budget": null}`, true, true, 0, false},
		{`{"budget": 12.5}`, true, false, 12.5, false},
		{`{"budget": 0}`, true, false, 0, false},
		{`{"budget": "x"}`, true, false, 0, true},
	}
	for _, c := range cases {
		var p patch
		err := json.Unmarshal([]byte(c.body), &p)
		if (err != nil) != c.wantErr {
			t.Errorf("%s: err %v, want error %v", c.body, err, c.wantErr)
			continue
		}
		if c.wantErr {
			continue
		}
		if p.Budget.Set != c.set || p.Budget.Null != c.null || p.Budget.Value != c.value {
			t.Errorf("%s: got %+v, want set=%v null=%v value=%v", c.body, p.Budget, c.set, c.null, c.value)
		}
	}
	for v, want := range map[*Value[string]]string{ptr(Of("a")): `"a"`, ptr(Null[string]()): "null", ptr(Value[string]{}): "null"} {
		if b, _ := json.Marshal(*v); string(b) != want {
			t.Errorf("marshal %+v: got %s, want %s", *v, b, want)
		}
	}
}

func ptr[T any](v T) *T { return &v }
