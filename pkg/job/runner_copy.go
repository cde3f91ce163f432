package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"

	"github.com/brightrun/brightrun/pkg/gpucluster"
)

// ModelObjectKey is where an artifact of a job is stored in the models
// bucket: models/<user>/<job>/<file name>.
func ModelObjectKey(userID, jobID, name string) string {
	return "models/" + userID + "/" + jobID + "/" + name
}

// safeName: an artifact name the cluster gives becomes the last segment of
// an object key, so it must not carry a path.
var safeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$`)

// Download resilience: a cut stream is resumed from the byte it reached,
// up to maxResumes times per file in one invocation; a file whose bytes do
// not match the cluster's checksum is copied once more from the start.
const (
	maxResumes      = 5
	copyAttempts    = 2
	urlRefreshLimit = 2
)

// CopyArtifacts is copy-artifacts: it copies each of the completed job's
// files from the cluster to models/<user>/<job>/<name>, streaming (a
// multipart upload for large files) and checking the SHA-256 on the way.
// A file already stored with the cluster's checksum is skipped, so a retry
// after a failure resumes with the files still missing. The copied files
// are recorded on the job for finalize-job.
func (r *Runner) CopyArtifacts(ctx context.Context, in TaskInput) (CopyOutput, error) {
	if err := in.check(); err != nil {
		return CopyOutput{}, err
	}
	run, err := r.run(ctx, in)
	if err != nil {
		return CopyOutput{}, err
	}
	j := run.Job
	if j.ExternalJobID == nil {
		return CopyOutput{}, &JobNotSubmitted{JobID: j.ID, Status: j.Status}
	}
	ext := *j.ExternalJobID
	arts, err := r.Cluster.Artifacts(ctx, ext)
	if err != nil {
		return CopyOutput{}, err
	}
	recorded := make([]Artifact, 0, len(arts))
	for _, a := range arts {
		if !safeName.MatchString(a.Name) {
			return CopyOutput{}, &ArtifactCorrupt{Name: a.Name, Reason: "the name is not a plain file name"}
		}
		key := ModelObjectKey(j.UserID, j.ID, a.Name)
		info, found, err := r.Objects.StatObject(ctx, r.ModelsBucket, key)
		if err != nil {
			return CopyOutput{}, err
		}
		if found && info.SHA256 == a.SHA256 && info.Size == a.SizeBytes {
			r.log().Info("artifact already copied", "job", j.ID, "name", a.Name)
		} else if err := r.copyArtifact(ctx, ext, a, key); err != nil {
			return CopyOutput{}, err
		}
		recorded = append(recorded, Artifact{Name: a.Name, Key: key, SizeBytes: a.SizeBytes, SHA256: a.SHA256, ContentType: a.ContentType})
	}
	if err := r.Store.SaveArtifacts(ctx, in.UserID, in.JobID, recorded, r.now()); err != nil {
		return CopyOutput{}, err
	}
	return CopyOutput{Artifacts: len(recorded)}, nil
}

// copyArtifact streams one file into the bucket.
func (r *Runner) copyArtifact(ctx context.Context, ext string, a gpucluster.Artifact, key string) error {
	url := a.URL
	refreshes := 0
	// open fetches from offset; an expired URL is listed afresh.
	open := func(offset int64) (io.ReadCloser, error) {
		for {
			rc, err := r.Cluster.Download(ctx, url, offset)
			var rej *gpucluster.Rejected
			if err == nil || !errors.As(err, &rej) || rej.Code != gpucluster.CodeURLExpired || refreshes >= urlRefreshLimit {
				return rc, err
			}
			refreshes++
			fresh, lerr := r.Cluster.Artifacts(ctx, ext)
			if lerr != nil {
				return nil, lerr
			}
			found := false
			for _, f := range fresh {
				if f.Name == a.Name {
					url, found = f.URL, true
				}
			}
			if !found {
				return nil, &ArtifactCorrupt{Name: a.Name, Reason: "no longer listed by the cluster"}
			}
		}
	}
	for attempt := 1; ; attempt++ {
		rd := &resumingReader{ctx: ctx, open: open, size: a.SizeBytes, maxResumes: maxResumes}
		err := r.Objects.PutVerified(ctx, r.ModelsBucket, key, rd, a.SizeBytes, a.ContentType, a.SHA256)
		rd.Close()
		if rd.failed != nil {
			return rd.failed // the cluster's typed error, unwrapped
		}
		var mm *ChecksumMismatch
		if errors.As(err, &mm) {
			r.log().Warn("artifact checksum mismatch", "name", a.Name, "attempt", attempt, "error", mm.Error())
			if attempt < copyAttempts {
				continue
			}
			return &ArtifactCorrupt{Name: a.Name, Reason: mm.Error()}
		}
		if err == nil {
			r.log().Info("artifact copied", "name", a.Name, "bytes", a.SizeBytes, "resumes", rd.resumes)
		}
		return err
	}
}

// resumingReader reads a download to its end, reopening it at the offset
// reached when the stream is cut (the cluster supports Range).
type resumingReader struct {
	ctx        context.Context
	open       func(offset int64) (io.ReadCloser, error)
	size       int64
	maxResumes int

	rc      io.ReadCloser
	fresh   bool // rc was just opened: nothing read from it yet
	off     int64
	resumes int
	failed  error // what ended the download for good (returned unwrapped by the copier)
}

func (r *resumingReader) Read(p []byte) (int, error) {
	if r.failed != nil {
		return 0, r.failed
	}
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if r.rc == nil {
			rc, err := r.open(r.off)
			if err != nil {
				r.failed = err
				return 0, err
			}
			r.rc, r.fresh = rc, true
		}
		n, err := r.rc.Read(p)
		r.off += int64(n)
		fresh := r.fresh && n == 0
		r.fresh = r.fresh && n == 0
		switch {
		case err == nil:
			return n, nil
		case err == io.EOF && (r.off >= r.size || fresh):
			// The end, or a resumed stream with nothing in it (the file is
			// shorter than listed): the verifier judges size and checksum.
			return n, io.EOF
		case err == io.EOF:
			err = io.ErrUnexpectedEOF // closed early: resume
		}
		r.rc.Close()
		r.rc = nil
		r.resumes++
		if cerr := r.ctx.Err(); cerr != nil {
			r.failed = cerr
			return n, cerr
		}
		if r.resumes > r.maxResumes {
			r.failed = &gpucluster.ClusterUnavailable{Op: "Download", Attempts: r.resumes,
				Err: fmt.Errorf("stream cut %d times, last at byte %d: %w", r.resumes, r.off, err)}
			return n, r.failed
		}
		if n > 0 {
			return n, nil
		}
	}
}

func (r *resumingReader) Close() {
	if r.rc != nil {
		r.rc.Close()
		r.rc = nil
	}
}
