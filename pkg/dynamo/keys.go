package dynamo

import "fmt"

// Every key value of the table is built here, and only here, so the key
// design in docs/data-model.md has one implementation.

const (
	profileSK    = "#PROFILE"
	credentialSK = "#CREDENTIAL"
	idemSK       = "#IDEM"
)

func userPK(userID string) string             { return "USER#" + userID }
func emailPK(email string) string             { return "EMAIL#" + email }
func idemPK(userID, key string) string        { return "IDEM#" + userID + "#" + key }
func datasetSKPrefix() string                 { return "DATASET#" }
func costSummarySKPrefix() string             { return "COSTSUM#" }
func jobStatusGSI2SKPrefix(s string) string   { return "JOB#" + s + "#" }
func modelStatusGSI2SKPrefix(s string) string { return "MODEL#" + s + "#" }

func datasetSK(id string) string { return "DATASET#" + id }

// datasetReportSK is not under DATASET#, so listing datasets skips reports.
func datasetReportSK(id string) string { return "DATASETREPORT#" + id }

func datasetGSI2SK(status, id string) string { return "DATASET#" + status + "#" + id }

// costSummarySK is the month's running total: COSTSUM#2026-11.
func costSummarySK(month string) string { return "COSTSUM#" + month }

const jobMetaSK = "#META"

func jobPK(id string) string     { return "JOB#" + id }
func jobGSI1SK(id string) string { return "JOB#" + id }

const jobGSI1SKPrefix = "JOB#"

func jobGSI2SK(status, id string) string { return "JOB#" + status + "#" + id }

// Telemetry of a job: one item per step, per log line, per checkpoint, each
// keyed by what the cluster numbers them with, so storing is idempotent.
func jobMetricsPK(id string) string { return "JOB#" + id + "#METRICS" }
func jobLogsPK(id string) string    { return "JOB#" + id + "#LOGS" }
func stepSK(step int) string        { return fmt.Sprintf("STEP#%010d", step) }

const stepSKPrefix = "STEP#"

// overviewSK: the job's metrics overview, in the metrics partition (it does
// not begin with STEP#, so point queries never read it).
const overviewSK = "OVERVIEW"

// Log lines are keyed by the sequence number the runner gives them (the
// cluster's order), so "after line n" is a key range.
const logSKPrefix = "SEQ#"

func logSK(seq int64) string       { return fmt.Sprintf("SEQ#%012d", seq) }
func checkpointSK(step int) string { return fmt.Sprintf("CKPT#%010d", step) }

// The cluster's id of a job points back to the job and its owner.
const extJobLookupSK = "#LOOKUP"

func extJobPK(externalID string) string { return "EXTJOB#" + externalID }

// A model (artifact) lives in its owner's partition; GSI2 lists it by status.
func modelSK(id string) string             { return "MODEL#" + id }
func modelSKPrefix() string                { return "MODEL#" }
func modelGSI2SK(status, id string) string { return "MODEL#" + status + "#" + id }

func checkpointSKPrefix() string { return "CKPT#" }

// The job feed: entries numbered from 1 (pkg/job/feed.go).
const feedSKPrefix = "SEQ#"

func jobFeedPK(id string) string { return "JOB#" + id + "#FEED" }
func feedSK(seq int64) string    { return fmt.Sprintf("SEQ#%012d", seq) }

// The sweep list (pkg/job.Sweeper): one item per job that may still need
// the sweeper, all in one partition. It is written once with the job and
// deleted once when the job is final with nothing left to publish, and
// read every 15 minutes: far below one partition's limits for any number
// of jobs in flight this platform expects (docs/data-model.md).
const sweepPK = "SWEEP"

func sweepSK(jobID string) string { return "JOB#" + jobID }
