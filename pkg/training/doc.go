// Package training is the training-configuration domain: the catalogs the
// frontend renders (presets, GPU types, base models, value limits), the one
// validation of a job configuration used by both the estimate and job
// creation (Resolve), and the cost and duration estimator (EstimateRun) with
// its throughput model (Throughput), which the GPU-cluster simulator shares.
//
// Every number of the model, and where it comes from, is in
// docs/estimates.md; a test keeps that document's throughput table equal to
// what the code computes.
package training
