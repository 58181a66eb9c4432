// The public surface of @sluice/core: what the ingress, worker and autoscaler share. Listed explicitly.
export { loadAutoscalerConfig, loadIngressConfig, loadWorkerConfig } from './config/load-config.ts'
export type {
  AutoscalerConfig,
  AutoscalerSettings,
  IngressConfig,
  IngressSettings,
  LogConfig,
  NatsConfig,
  QueueConfig,
  WorkerConfig,
  WorkerSettings,
} from './config/load-config.ts'
export { allSettingGroups, settingPrefixes } from './config/sluice-settings.ts'
export type { IntegerSchema, Setting, SettingGroup, SettingSchema } from './config/settings.ts'
export { configRules, ruleMessage, ruleSettings } from './config/config-rules.ts'
export type { ConfigRule, OrderRule, RequiresRule } from './config/config-rules.ts'
export { exitBoundMs, exitBounds, msPerUnit } from './config/exit-bounds.ts'
export type { ExitBound } from './config/exit-bounds.ts'
export {
  ConfigError,
  QueueFullError,
  QueueOverloadedError,
  QueueUnavailableError,
  SluiceError,
  sluiceErrorCode,
  TooManyInflightError,
  TopologyConflictError,
} from './errors.ts'
export { isJetStreamError, JetStreamCode } from './jetstream-codes.ts'
export { connectNats, connectNatsOnce, NatsAuthenticationError } from './nats-connection.ts'
export { redactUrlCredentials } from './redact.ts'
export { escapeLine, forEachLine } from './output-lines.ts'
export type { NatsHandle } from './nats-connection.ts'
export type { NatsConnectionSettings } from './nats-connection-options.ts'
export { natsCredentialProblems } from './nats-credentials.ts'
export type { NatsCredentialNames, NatsCredentialPieces, NatsCredentials, NatsTlsMaterial } from './nats-credentials.ts'
export { QueueNotFoundError, readConsumerBacklog, readQueueBacklog } from './consumer-backlog.ts'
export type { ConsumerBacklog, QueueBacklog } from './consumer-backlog.ts'
export { createLogger } from './logger.ts'
export { startOpsServer } from './ops-server.ts'
export type { OpsServer, OpsServerOptions } from './ops-server.ts'
export { JOB_ID_MAX_LENGTH, JOB_ID_PATTERN, JOB_TYPE_PATTERN, JobHeader, jobHeaders, jobIdFromSubject, readJob } from './job-message.ts'
export type { Job } from './job-message.ts'
export { JobTypes, JobTypesFileError, loadJobTypes } from './job-types.ts'
export type { PayloadProblem } from './job-types.ts'
export { JOB_PROGRESS_DATA_MAX_BYTES, JobStatusStore } from './job-status.ts'
export { FINAL_STATES, supersedes } from './job-state-order.ts'
export { PipelinedPublisher } from './pipelined-publisher.ts'
export type { JobProgress, JobState, JobStatus, StopWatching } from './job-status.ts'
export { applyQueueStreams, applyWorkerConsumer, statusStreamName } from './topology/apply-topology.ts'
export { ensureConsumer } from './topology/ensure-consumer.ts'
export { ensureStream, findStream } from './topology/ensure-stream.ts'
export {
  DEAD_LETTER_ERROR_MAX_BYTES,
  DEAD_LETTER_HEADER_ALLOWANCE_BYTES,
  deadLetterStreamConfig,
  cancelSubject,
  deadLetterSubject,
  HEADER_ALLOWANCE_BYTES,
  jobSubject,
  jobSubjectPrefixOf,
  queueStreamConfig,
  scheduledConsumerConfig,
  scheduledConsumerName,
  scheduledSubject,
  scheduledSubjectPrefix,
  workerConsumerConfig,
} from './topology/queue-topology.ts'
export { loadConfigOrExit, startOrExit, stopOnSignals } from './startup.ts'
export { BoundedSlots } from './bounded-slots.ts'
export { CallbackHeader, callbackOptions, CallbackSender } from './callbacks/callback-sender.ts'
export type { CallbackOptions, CallbackOutcome } from './callbacks/callback-sender.ts'
export { CALLBACK_URL_MAX_LENGTH, CallbackUrls, shownUrl } from './callbacks/callback-urls.ts'
export { SIGNATURE_HEADER, signatureHeaders, TIMESTAMP_HEADER } from './http/request-signature.ts'
