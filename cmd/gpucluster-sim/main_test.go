package main

import "testing"

func TestLoopbackOnly(t *testing.T) {
	for _, c := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:8089", true}, {"localhost:8089", true}, {"[::1]:8089", true}, {"127.0.0.1:0", true},
		{":8089", false}, {"0.0.0.0:8089", false}, {"192.168.1.5:8089", false}, {"example.com:80", false}, {"8089", false},
	} {
		if err := loopbackOnly(c.addr); (err == nil) != c.ok {
			t.Errorf("loopbackOnly(%q) = %v, want ok %v", c.addr, err, c.ok)
		}
	}
}
