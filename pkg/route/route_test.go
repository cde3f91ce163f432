package route

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// ---------------------------------------------------------------------------
// (a) Route.Match, Allows, ByFunction, Key

func TestMatch(t *testing.T) {
	me := Route{Method: "GET", Path: "/api/me"}
	byID := Route{Method: "GET", Path: "/api/datasets/{id}"}
	complete := Route{Method: "POST", Path: "/api/datasets/{id}/upload/complete"}
	two := Route{Method: "GET", Path: "/api/users/{user}/datasets/{id}"}

	tests := []struct {
		name   string
		route  Route
		method string
		path   string
		ok     bool
		params map[string]string
	}{
		{"literal", me, "GET", "/api/me", true, nil},
		{"literal trailing slash", me, "GET", "/api/me/", false, nil},
		{"literal without leading slash", me, "GET", "api/me", true, nil},
		{"literal wrong method", me, "POST", "/api/me", false, nil},
		{"method is case-sensitive", me, "get", "/api/me", false, nil},
		{"literal is case-sensitive", me, "GET", "/API/me", false, nil},
		{"literal extra segment", me, "GET", "/api/me/x", false, nil},
		{"literal missing segment", me, "GET", "/api", false, nil},
		{"literal other segment", me, "GET", "/api/you", false, nil},
		{"empty segment inside", me, "GET", "/api//me", false, nil},
		{"root", me, "GET", "/", false, nil},
		{"empty path", me, "GET", "", false, nil},

		{"param", byID, "GET", "/api/datasets/01JDY7Q3M2S8K4N6P9R1T5V7X0", true, map[string]string{"id": "01JDY7Q3M2S8K4N6P9R1T5V7X0"}},
		{"param trailing slash", byID, "GET", "/api/datasets/abc/", false, nil},
		{"param kept as given (no decoding)", byID, "GET", "/api/datasets/a%20b", true, map[string]string{"id": "a%20b"}},
		{"param looks like a literal", byID, "GET", "/api/datasets/confirm", true, map[string]string{"id": "confirm"}},
		{"param wrong method", byID, "DELETE", "/api/datasets/abc", false, nil},
		{"param missing (trailing slash)", byID, "GET", "/api/datasets/", false, nil},
		{"param missing segment", byID, "GET", "/api/datasets", false, nil},
		{"param extra segment", byID, "GET", "/api/datasets/abc/confirm", false, nil},
		{"param literal prefix differs", byID, "GET", "/api/dataset/abc", false, nil},

		{"param in the middle", complete, "POST", "/api/datasets/abc/upload/complete", true, map[string]string{"id": "abc"}},
		{"empty param in the middle", complete, "POST", "/api/datasets//upload/complete", false, nil},
		{"literal after param differs", complete, "POST", "/api/datasets/abc/upload/confirm", false, nil},
		{"missing literal after param", complete, "POST", "/api/datasets/abc/upload", false, nil},

		{"two params", two, "GET", "/api/users/u1/datasets/d1", true, map[string]string{"user": "u1", "id": "d1"}},
		{"two params, one empty", two, "GET", "/api/users//datasets/d1", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			params, ok := tt.route.Match(tt.method, tt.path)
			if ok != tt.ok {
				t.Fatalf("%s.Match(%q, %q) ok = %v, want %v", tt.route.Key(), tt.method, tt.path, ok, tt.ok)
			}
			if !ok {
				if params != nil {
					t.Errorf("no match but params = %v, want nil", params)
				}
				return
			}
			if !maps.Equal(params, tt.params) {
				t.Errorf("params = %v, want %v", params, tt.params)
			}
			if tt.params == nil && params != nil {
				t.Errorf("params = %#v for a route without parameters, want nil", params)
			}
		})
	}
}

func TestAllows(t *testing.T) {
	open := Route{Method: "GET", Path: "/api/me"}
	admin := Route{Method: "PATCH", Path: "/api/admin/users/{id}", Roles: []string{RoleAdmin}}
	billing := Route{Method: "GET", Path: "/api/admin/costs", Roles: []string{RoleAdmin, RoleBillingAdmin}}
	tests := []struct {
		route Route
		role  string
		want  bool
	}{
		{open, RoleUser, true},
		{open, RoleAdmin, true},
		{open, "", true},
		{open, "ANYTHING", true},
		{admin, RoleAdmin, true},
		{admin, RoleUser, false},
		{admin, RoleBillingAdmin, false},
		{admin, "", false},
		{admin, "admin", false}, // roles are exact, not case-folded
		{admin, " ADMIN", false},
		{billing, RoleAdmin, true},
		{billing, RoleBillingAdmin, true},
		{billing, RoleUser, false},
	}
	for _, tt := range tests {
		if got := tt.route.Allows(tt.role); got != tt.want {
			t.Errorf("%s (roles %v).Allows(%q) = %v, want %v", tt.route.Key(), tt.route.Roles, tt.role, got, tt.want)
		}
	}
}

func TestByFunction(t *testing.T) {
	for _, r := range Table {
		got, err := ByFunction(r.Function)
		if err != nil {
			t.Errorf("ByFunction(%q): %v", r.Function, err)
			continue
		}
		if got.Key() != r.Key() {
			t.Errorf("ByFunction(%q) = %s, want %s", r.Function, got.Key(), r.Key())
		}
	}
	for _, fn := range []string{"", "no-such-function", "GET /api/me", "Get-Me"} {
		if r, err := ByFunction(fn); err == nil {
			t.Errorf("ByFunction(%q) = %s, want an error", fn, r.Key())
		} else if !strings.Contains(err.Error(), fmt.Sprintf("%q", fn)) {
			t.Errorf("ByFunction(%q) error %q does not name the function", fn, err)
		}
	}
	// Workers have no route.
	for _, w := range Workers {
		if r, err := ByFunction(w.Function); err == nil {
			t.Errorf("ByFunction(%q) = %s for a worker, want an error", w.Function, r.Key())
		}
	}
}

func TestKey(t *testing.T) {
	if got, want := (Route{Method: "PATCH", Path: "/api/datasets/{id}"}).Key(), "PATCH /api/datasets/{id}"; got != want {
		t.Errorf("Key() = %q, want %q", got, want)
	}
}

// ---------------------------------------------------------------------------
// (b) Invariants of the table

var (
	methods      = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}
	knownRoles   = []string{RoleUser, RoleAdmin, RoleBillingAdmin}
	knownAccess  = []string{TableRead, TableWrite, IdentityRegister, IdentityRoles, DatasetsRead, DatasetsWrite, DatasetsTag, EventsPut, InvokeValidate, WorkflowStart, WorkflowRead, GPUCluster, ModelsWrite}
	kebab        = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z][a-z0-9]*)+$`)
	pathSegment  = regexp.MustCompile(`^([a-z0-9]+(-[a-z0-9]+)*|\{[a-z][a-zA-Z0-9]*\})$`)
	functionVerb = []string{
		// Extend when a function needs a new verb; keep names verb-noun.
		"get", "list", "create", "update", "delete", "sign", "log", "complete", "confirm", "validate",
		"estimate", "cancel", "download", "mark", "record", "notify", "sweep", "submit", "poll", "finalize",
		"copy", "stream", "start", "stop", "read", "send", "compute", "accrue", "check", "refresh",
	}
)

func TestTableRoutesAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Table {
		if seen[r.Key()] {
			t.Errorf("route %s appears twice", r.Key())
		}
		seen[r.Key()] = true
	}
}

func TestFunctionNamesAreUniqueAndVerbNoun(t *testing.T) {
	seen := map[string]bool{}
	for _, fn := range Functions() {
		if seen[fn] {
			t.Errorf("function %q is used twice (one function serves one route or one trigger)", fn)
		}
		seen[fn] = true
		if !kebab.MatchString(fn) {
			t.Errorf("function %q is not lower-kebab-case with at least two words", fn)
			continue
		}
		if verb := strings.SplitN(fn, "-", 2)[0]; !slices.Contains(functionVerb, verb) {
			t.Errorf("function %q does not start with a known verb (%q); name functions verb-noun, or add the verb to functionVerb", fn, verb)
		}
	}
	if got, want := len(Functions()), len(Table)+len(Workers); got != want {
		t.Errorf("Functions() has %d names, want %d (routes + workers)", got, want)
	}
}

func TestFunctionsExist(t *testing.T) {
	root := repoRoot(t)
	for _, fn := range Functions() {
		if _, err := os.Stat(filepath.Join(root, "functions", fn, "main.go")); err != nil {
			t.Errorf("function %q has no functions/%s/main.go: %v", fn, fn, err)
		}
	}
	// And the other way: a function directory nobody routes to is never deployed.
	dirs, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, "functions", d.Name(), "main.go")); err != nil {
			continue
		}
		if !slices.Contains(Functions(), d.Name()) {
			t.Errorf("functions/%s has a main.go but is neither a route of Table nor a Worker", d.Name())
		}
	}
}

func TestRouteFields(t *testing.T) {
	for _, r := range Table {
		k := r.Key()
		if !slices.Contains(methods, r.Method) {
			t.Errorf("%s: method %q is not one of %v", k, r.Method, methods)
		}
		if !strings.HasPrefix(r.Path, "/api/") || strings.HasSuffix(r.Path, "/") {
			t.Errorf("%s: path must start with /api/ and not end with /", k)
		}
		params := map[string]bool{}
		for _, seg := range strings.Split(strings.TrimPrefix(r.Path, "/"), "/") {
			if !pathSegment.MatchString(seg) {
				t.Errorf("%s: segment %q is neither lower-kebab nor a {param}", k, seg)
			}
			if strings.HasPrefix(seg, "{") {
				if params[seg] {
					t.Errorf("%s: parameter %s appears twice", k, seg)
				}
				params[seg] = true
			}
		}
		for _, role := range r.Roles {
			if !slices.Contains(knownRoles, role) {
				t.Errorf("%s: unknown role %q", k, role)
			}
		}
		// No Access is legitimate (the catalogs are data in code): infra then
		// grants nothing but the function's own log group.
		for _, a := range r.Access {
			if !slices.Contains(knownAccess, a) {
				t.Errorf("%s: unknown access scope %q", k, a)
			}
		}
		switch {
		case r.Stream && (r.Timeout < 60 || r.Timeout > 900):
			// A Function URL streams for as long as the Lambda runs.
			t.Errorf("%s: timeout %d s; a stream route should run 60–900 s (Lambda's limit)", k, r.Timeout)
		case !r.Stream && (r.Timeout < 0 || r.Timeout > 30):
			// API Gateway HTTP APIs give up on an integration after 30 s.
			t.Errorf("%s: timeout %d s; an HTTP route must answer within API Gateway's 30 s", k, r.Timeout)
		}
		if r.Stream && (r.Method != "GET" || r.Public || len(r.Roles) > 0 || r.Idempotent) {
			t.Errorf("%s: a stream route is an authenticated GET without roles", k)
		}
		if r.Idempotent && r.Method != "POST" {
			t.Errorf("%s: Idempotent is for creating POSTs", k)
		}
	}
	for _, w := range Workers {
		if w.Timeout <= 0 || w.Timeout > 900 || w.MemoryMB < 128 || w.Trigger == "" {
			t.Errorf("worker %s: timeout %d s (1–900), memory %d MB (≥ 128), trigger %q (required)", w.Function, w.Timeout, w.MemoryMB, w.Trigger)
		}
		// EventBridge schedules run every whole number of minutes, at
		// least one; only schedules have an interval.
		if scheduled := w.Trigger == TriggerSchedule; scheduled != (w.Every > 0) || w.Every%time.Minute != 0 {
			t.Errorf("worker %s: trigger %q, every %v; want whole minutes for a schedule and none otherwise", w.Function, w.Trigger, w.Every)
		}
		for _, a := range w.Access {
			if !slices.Contains(knownAccess, a) {
				t.Errorf("worker %s: unknown access scope %q", w.Function, a)
			}
		}
	}
}

// Roles and Idempotency-Key need the caller's identity, which public routes
// do not have; and only the account routes may be public.
func TestPublicRoutes(t *testing.T) {
	var public []string
	for _, r := range Table {
		if !r.Public {
			continue
		}
		public = append(public, r.Key())
		if len(r.Roles) > 0 {
			t.Errorf("%s: Roles on a public route can never be checked (no token); make it non-public", r.Key())
		}
		if r.Idempotent {
			t.Errorf("%s: Idempotency-Key keys are per user; a public route has no user", r.Key())
		}
		if !strings.HasPrefix(r.Path, "/api/auth/") {
			t.Errorf("%s: only /api/auth/ routes may be public", r.Key())
		}
	}
	want := []string{"POST /api/auth/signup", "POST /api/auth/login"}
	if !slices.Equal(public, want) {
		t.Errorf("public routes = %v, want %v", public, want)
	}
}

// Every route answers its own concrete paths, and where two routes of a
// method overlap, the more specific comes first: the local gateway takes the
// first match in table order, API Gateway the most specific route.
func TestRoutesDoNotShadow(t *testing.T) {
	for i, r := range Table {
		path := concrete(r.Path)
		var hits []string
		for _, o := range Table {
			if _, ok := o.Match(r.Method, path); ok {
				hits = append(hits, o.Key())
			}
		}
		if len(hits) == 0 || hits[0] != r.Key() {
			t.Errorf("%s %s: matches %v first, want %s", r.Method, path, hits, r.Key())
		}
		for _, o := range Table[:i] {
			if o.Method == r.Method && overlap(o.Path, r.Path) && moreSpecific(r.Path, o.Path) {
				t.Errorf("%s is more specific than the earlier %s; list it first", r.Key(), o.Key())
			}
		}
	}
}

func concrete(path string) string {
	return regexp.MustCompile(`\{[^}]*\}`).ReplaceAllString(path, "x0concrete")
}

func segments(p string) []string { return strings.Split(strings.Trim(p, "/"), "/") }

func isParam(seg string) bool { return strings.HasPrefix(seg, "{") }

func overlap(a, b string) bool {
	sa, sb := segments(a), segments(b)
	if len(sa) != len(sb) {
		return false
	}
	for i := range sa {
		if sa[i] != sb[i] && !isParam(sa[i]) && !isParam(sb[i]) {
			return false
		}
	}
	return true
}

// moreSpecific: at the first differing segment a has a literal, b a param.
func moreSpecific(a, b string) bool {
	sa, sb := segments(a), segments(b)
	for i := range sa {
		if sa[i] != sb[i] {
			return !isParam(sa[i]) && isParam(sb[i])
		}
	}
	return false
}

func TestShadowHelpers(t *testing.T) {
	if !overlap("/api/datasets/{id}", "/api/datasets/stats") || !moreSpecific("/api/datasets/stats", "/api/datasets/{id}") {
		t.Error("a literal and a param at the same place overlap, and the literal is more specific")
	}
	if overlap("/api/datasets/{id}", "/api/datasets/{id}/confirm") || overlap("/api/me", "/api/you") {
		t.Error("different lengths or different literals do not overlap")
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && regexp.MustCompile(`(?m)^module github\.com/brightrun/brightrun\s*$`).Match(b) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod of module github.com/brightrun/brightrun above the test's directory")
		}
		dir = parent
	}
}

// ---------------------------------------------------------------------------
// (c) docs/openapi.yaml documents exactly the routes of the table

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := parseOpenAPI(src)
	if err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.version, "3.1.") {
		t.Errorf("openapi: %q, want 3.1.x", doc.version)
	}

	inTable := map[string]bool{}
	for _, r := range Table {
		inTable[r.Key()] = true
		op, ok := doc.ops[r.Key()]
		if !ok {
			t.Errorf("%s (function %s) is not under paths in docs/openapi.yaml", r.Key(), r.Function)
			continue
		}
		if op.function != r.Function {
			t.Errorf("%s: x-function is %q in docs/openapi.yaml, want %q", r.Key(), op.function, r.Function)
		}
		if public := op.security == "[]"; public != r.Public {
			t.Errorf("%s: documented public (security: []) = %v, route Public = %v", r.Key(), public, r.Public)
		}
		if !slices.Equal(op.roles, r.Roles) {
			t.Errorf("%s: x-roles %v in docs/openapi.yaml, route Roles %v", r.Key(), op.roles, r.Roles)
		}
		if op.idempotencyKey != r.Idempotent {
			t.Errorf("%s: references components/parameters/IdempotencyKey = %v, route Idempotent = %v", r.Key(), op.idempotencyKey, r.Idempotent)
		}
		if !r.Public && !op.responses["401"] {
			t.Errorf("%s: a non-public route must document 401", r.Key())
		}
		if len(r.Roles) > 0 && !op.responses["403"] {
			t.Errorf("%s: a route with roles must document 403", r.Key())
		}
		if r.Idempotent && !op.responses["409"] {
			t.Errorf("%s: an idempotent route must document 409 (IDEMPOTENCY_KEY_REUSED, IDEMPOTENCY_IN_PROGRESS)", r.Key())
		}
		if !op.responses["500"] {
			t.Errorf("%s: every route must document 500", r.Key())
		}
	}
	for _, key := range slices.Sorted(maps.Keys(doc.ops)) {
		if !inTable[key] {
			t.Errorf("%s is in docs/openapi.yaml but not in route.Table (line %d)", key, doc.ops[key].line)
		}
	}
}

// ---------------------------------------------------------------------------
// A minimal reader for the parts of docs/openapi.yaml the test needs.
//
// The module has no YAML library as a direct dependency (gopkg.in/yaml.v3 is
// in the module graph only through test dependencies of other modules, and
// importing it would need a go.mod change), so this reads YAML block
// mappings by indentation: openapi, paths → path items → operations → the
// operation's x-function, x-roles, security, parameters and responses. It
// understands plain and quoted keys, comments, block scalars (| and >),
// multi-line values and sequences written at their key's indentation, and
// it refuses what it does not understand (flow-style path items, $ref path
// items, anchors and merge keys, tabs, duplicate keys) instead of guessing.

type apiDoc struct {
	version string
	ops     map[string]apiOp // "GET /api/me"
}

type apiOp struct {
	line           int
	function       string
	security       string // raw value: "[]" for a public operation
	roles          []string
	idempotencyKey bool
	responses      map[string]bool
}

type yamlLine struct {
	num    int // 1-based
	indent int
	text   string // without indentation
}

type entry struct {
	key   string
	value string // "" when a block follows
	line  yamlLine
	block []yamlLine // the lines below the key that belong to it
}

var httpMethods = map[string]bool{"get": true, "put": true, "post": true, "delete": true, "options": true, "head": true, "patch": true, "trace": true}

func parseOpenAPI(src []byte) (apiDoc, error) {
	lines, err := splitYAML(src)
	if err != nil {
		return apiDoc{}, err
	}
	top, err := mapping(lines)
	if err != nil {
		return apiDoc{}, err
	}
	doc := apiDoc{ops: map[string]apiOp{}}
	var paths *entry
	for i, e := range top {
		switch e.key {
		case "openapi":
			doc.version = unquote(e.value)
		case "paths":
			paths = &top[i]
		}
	}
	if paths == nil {
		return doc, fmt.Errorf("no top-level paths:")
	}
	if paths.value != "" {
		return doc, fmt.Errorf("line %d: paths must be a block mapping, got %q", paths.line.num, paths.value)
	}
	items, err := mapping(paths.block)
	if err != nil {
		return doc, err
	}
	for _, item := range items {
		if strings.HasPrefix(item.key, "x-") {
			continue
		}
		if !strings.HasPrefix(item.key, "/") {
			return doc, fmt.Errorf("line %d: %q under paths is neither a path nor an x- extension", item.line.num, item.key)
		}
		if item.value != "" {
			return doc, fmt.Errorf("line %d: path %s must be a block mapping, got %q", item.line.num, item.key, item.value)
		}
		fields, err := mapping(item.block)
		if err != nil {
			return doc, err
		}
		for _, f := range fields {
			if f.key == "$ref" {
				return doc, fmt.Errorf("line %d: path item %s is a $ref; keep operations inline so the route test can read them", f.line.num, item.key)
			}
			if !httpMethods[f.key] {
				continue
			}
			op, err := operation(f)
			if err != nil {
				return doc, err
			}
			doc.ops[strings.ToUpper(f.key)+" "+item.key] = op
		}
	}
	return doc, nil
}

func operation(f entry) (apiOp, error) {
	op := apiOp{line: f.line.num, responses: map[string]bool{}}
	if f.value != "" {
		return op, fmt.Errorf("line %d: operation %s must be a block mapping, got %q", f.line.num, f.key, f.value)
	}
	fields, err := mapping(f.block)
	if err != nil {
		return op, err
	}
	for _, g := range fields {
		switch g.key {
		case "x-function":
			op.function = unquote(g.value)
		case "security":
			op.security = strings.ReplaceAll(g.value, " ", "")
		case "x-roles":
			for _, r := range strings.Split(strings.Trim(g.value, "[] "), ",") {
				if r = unquote(strings.TrimSpace(r)); r != "" {
					op.roles = append(op.roles, r)
				}
			}
		case "parameters":
			for _, l := range g.block {
				if strings.Contains(l.text, "#/components/parameters/IdempotencyKey") {
					op.idempotencyKey = true
				}
			}
		case "responses":
			codes, err := mapping(g.block)
			if err != nil {
				return op, err
			}
			for _, c := range codes {
				op.responses[unquote(c.key)] = true
			}
		}
	}
	return op, nil
}

// splitYAML drops blank lines and comment lines and measures indentation.
func splitYAML(src []byte) ([]yamlLine, error) {
	var out []yamlLine
	for i, raw := range strings.Split(strings.ReplaceAll(string(src), "\r\n", "\n"), "\n") {
		text := strings.TrimLeft(raw, " ")
		indent := len(raw) - len(text)
		if strings.HasPrefix(text, "\t") {
			return nil, fmt.Errorf("line %d: tab in indentation", i+1)
		}
		if t := strings.TrimSpace(text); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if indent == 0 && (text == "---" || strings.HasPrefix(text, "--- ")) {
			if len(out) > 0 {
				return nil, fmt.Errorf("line %d: a second YAML document", i+1)
			}
			continue
		}
		if indent == 0 && text == "..." {
			break
		}
		out = append(out, yamlLine{num: i + 1, indent: indent, text: strings.TrimRight(text, " ")})
	}
	return out, nil
}

// mapping reads a block mapping: the keys at the indentation of its first
// line, each with the deeper lines below it (and "- " items at the key's own
// indentation, YAML's indentless sequences).
func mapping(lines []yamlLine) ([]entry, error) {
	if len(lines) == 0 {
		return nil, nil
	}
	indent := lines[0].indent
	var out []entry
	seen := map[string]int{}
	for _, l := range lines {
		switch {
		case l.indent > indent || (l.indent == indent && (l.text == "-" || strings.HasPrefix(l.text, "- "))):
			if len(out) == 0 {
				return nil, fmt.Errorf("line %d: expected a mapping key", l.num)
			}
			out[len(out)-1].block = append(out[len(out)-1].block, l)
			continue
		case l.indent < indent:
			return nil, fmt.Errorf("line %d: indentation %d is less than its mapping's %d", l.num, l.indent, indent)
		}
		// A block scalar's content is deeper than its key; that is handled by
		// the first case, so every line here starts a key.
		key, value, err := splitKey(l)
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[key]; dup {
			return nil, fmt.Errorf("line %d: duplicate key %q (first on line %d)", l.num, key, prev)
		}
		seen[key] = l.num
		out = append(out, entry{key: key, value: value, line: l})
	}
	return out, nil
}

func splitKey(l yamlLine) (key, value string, err error) {
	t := l.text
	switch {
	case strings.HasPrefix(t, "? "), strings.HasPrefix(t, "<<"), strings.HasPrefix(t, "&"), strings.HasPrefix(t, "*"), strings.HasPrefix(t, "!"):
		return "", "", fmt.Errorf("line %d: unsupported YAML (complex key, merge key, anchor, alias or tag): %q", l.num, t)
	case strings.HasPrefix(t, `"`), strings.HasPrefix(t, "'"):
		end := closingQuote(t)
		if end < 0 || !strings.HasPrefix(t[end+1:], ":") {
			return "", "", fmt.Errorf("line %d: malformed quoted key: %q", l.num, t)
		}
		key, t = unquote(t[:end+1]), t[end+2:]
	default:
		i := strings.Index(t, ": ")
		if i < 0 {
			if !strings.HasSuffix(t, ":") {
				return "", "", fmt.Errorf("line %d: expected a mapping key: %q", l.num, t)
			}
			i = len(t) - 1
		}
		key, t = t[:i], t[i+1:]
	}
	value = stripComment(strings.TrimSpace(t))
	if strings.HasPrefix(value, "&") || strings.HasPrefix(value, "*") || strings.HasPrefix(value, "!") {
		return "", "", fmt.Errorf("line %d: unsupported YAML (anchor, alias or tag) after key %q", l.num, key)
	}
	if isBlockScalar(value) {
		value = "|" // content is in the entry's block; the test never needs it
	}
	return key, value, nil
}

func closingQuote(s string) int {
	q := s[0]
	for i := 1; i < len(s); i++ {
		switch {
		case q == '"' && s[i] == '\\':
			i++
		case s[i] == q && q == '\'' && i+1 < len(s) && s[i+1] == '\'':
			i++ // '' is an escaped quote
		case s[i] == q:
			return i
		}
	}
	return -1
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'")
	}
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(s[1 : len(s)-1])
	}
	return s
}

// stripComment removes " # comment" from a plain value (not inside quotes).
func stripComment(v string) string {
	if v == "" || v[0] == '"' || v[0] == '\'' {
		return v
	}
	if i := strings.Index(v, " #"); i >= 0 {
		return strings.TrimSpace(v[:i])
	}
	if strings.HasPrefix(v, "#") {
		return ""
	}
	return v
}

var blockScalar = regexp.MustCompile(`^[|>][-+0-9]*$`)

func isBlockScalar(v string) bool { return blockScalar.MatchString(v) }

func TestParseOpenAPI(t *testing.T) {
	src := `# leading comment
openapi: "3.1.0"
info:
  description: |
    paths:
      /not/a/path:
        get: {}
paths: # the paths
  x-note: |
    get: a block scalar at operation depth under an extension
  '/api/me':
    summary: >-
      folded
      get: not a key
    parameters:
    - $ref: '#/components/parameters/IdempotencyKey'
    get:
      x-function: get-me # trailing comment
      security: [ ]
      x-roles: [ADMIN, 'USER']
      responses:
        '200':
          description: ok
        401:
          description: no
    patch:
      description: "multi-line
        quoted: value"
      parameters:
        - $ref: '#/components/parameters/IdempotencyKey'
  "/api/datasets/{id}":
    delete:
      x-function: 'delete-dataset'

components: {}
`
	doc, err := parseOpenAPI([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if doc.version != "3.1.0" {
		t.Errorf("version = %q", doc.version)
	}
	keys := slices.Sorted(maps.Keys(doc.ops))
	if want := []string{"DELETE /api/datasets/{id}", "GET /api/me", "PATCH /api/me"}; !slices.Equal(keys, want) {
		t.Fatalf("operations = %v, want %v", keys, want)
	}
	get := doc.ops["GET /api/me"]
	if get.function != "get-me" || get.security != "[]" || !slices.Equal(get.roles, []string{"ADMIN", "USER"}) || get.idempotencyKey ||
		!get.responses["200"] || !get.responses["401"] {
		t.Errorf("GET /api/me = %+v", get)
	}
	if p := doc.ops["PATCH /api/me"]; !p.idempotencyKey || p.function != "" {
		t.Errorf("PATCH /api/me = %+v", p)
	}
	if d := doc.ops["DELETE /api/datasets/{id}"]; d.function != "delete-dataset" {
		t.Errorf("DELETE = %+v", d)
	}

	bad := map[string]string{
		"flow path item":  "paths:\n  /api/me: {get: {}}\n",
		"ref path item":   "paths:\n  /api/me:\n    $ref: other.yaml\n",
		"duplicate path":  "paths:\n  /api/me:\n    get: {}\n  /api/me:\n    post: {}\n",
		"duplicate op":    "paths:\n  /api/me:\n    get:\n      summary: a\n    get:\n      summary: b\n",
		"flow operation":  "paths:\n  /api/me:\n    get: {summary: a}\n",
		"anchor":          "paths:\n  /api/me: &me\n    get:\n      summary: a\n",
		"merge key":       "paths:\n  /api/me:\n    <<: *base\n",
		"not a path":      "paths:\n  api/me:\n    get:\n      summary: a\n",
		"tab":             "paths:\n\t/api/me:\n",
		"no paths":        "openapi: 3.1.0\n",
		"flow paths":      "paths: {}\n",
		"bad indentation": "paths:\n    /api/me:\n      get:\n        summary: a\n  /api/you:\n    get:\n      summary: b\n",
	}
	for name, src := range bad {
		if _, err := parseOpenAPI([]byte(src)); err == nil {
			t.Errorf("%s: parsed without error, want one", name)
		}
	}
}
