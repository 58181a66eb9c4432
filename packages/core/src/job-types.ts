import { readFileSync } from 'node:fs'
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import { SluiceError } from './errors.ts'
import { JOB_TYPE_PATTERN } from './job-message.ts'

/**
 * The job types file (JOB_TYPES_FILE) cannot be used: unreadable, not JSON, not of the documented shape, or
 * a payload schema that is not valid JSON Schema. The ingress and worker stop at start-up with it.
 */
export class JobTypesFileError extends SluiceError {
  static readonly code = 'SLUICE_JOB_TYPES_FILE_INVALID'

  constructor(path: string, problem: string, options?: ErrorOptions) {
    super(JobTypesFileError.code, `job types file ${path}: ${problem}`, options)
  }
}

/** What a payload broke of its type's schema: the first problem, by its place in the payload. */
export interface PayloadProblem {
  /** JSON Pointer into the payload (`/user_id`); empty for the payload itself. */
  readonly path: string
  readonly message: string
}

/**
 * The job types one deployment handles, each with an optional JSON Schema (draft 2020-12 keywords that Ajv
 * draft-07, as Ajv reads it) for its payload, read from one file that the ingress and every worker load:
 *
 * ```json
 * { "types": { "resize-image": { "payload": { "type": "object", "required": ["url"] } }, "noop": {} } }
 * ```
 *
 * One file for both is what keeps them in step: the ingress refuses a payload its worker would refuse, and
 * a type no worker handles, before either is queued.
 */
export class JobTypes {
  readonly #validators: ReadonlyMap<string, ValidateFunction | undefined>

  private constructor(validators: ReadonlyMap<string, ValidateFunction | undefined>) {
    this.#validators = validators
  }

  /** Reads and compiles `path`; throws a JobTypesFileError naming what is wrong. */
  static load(path: string): JobTypes {
    let text: string
    try {
      text = readFileSync(path, 'utf8')
    } catch (error) {
      throw new JobTypesFileError(path, 'cannot be read', { cause: error })
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (error) {
      throw new JobTypesFileError(path, `is not JSON (${(error as Error).message})`, { cause: error })
    }
    return JobTypes.fromDocument(parsed, path)
  }

  /** Compiles a document of the file's shape; `source` names it in errors. */
  static fromDocument(document: unknown, source = 'job types'): JobTypes {
    const types = (document as { types?: unknown } | null)?.types
    if (typeof types !== 'object' || types === null || Array.isArray(types)) throw new JobTypesFileError(source, 'must be an object with a "types" object')
    // Payload schemas are the user's: every keyword they write must mean something, hence strict mode.
    const ajv = new Ajv({ allErrors: false, strict: true })
    const validators = new Map<string, ValidateFunction | undefined>()
    for (const [type, entry] of Object.entries(types as Record<string, unknown>)) {
      if (!JOB_TYPE_PATTERN.test(type)) throw new JobTypesFileError(source, `type "${type}" must match ${JOB_TYPE_PATTERN}`)
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new JobTypesFileError(source, `type "${type}" must be an object`)
      const unknownKeys = Object.keys(entry).filter((key) => key !== 'payload' && key !== 'description')
      if (unknownKeys.length > 0) throw new JobTypesFileError(source, `type "${type}" has unknown keys: ${unknownKeys.join(', ')}`)
      const schema = (entry as { payload?: unknown }).payload
      try {
        validators.set(type, schema === undefined ? undefined : ajv.compile(schema as object))
      } catch (error) {
        throw new JobTypesFileError(source, `the payload schema of type "${type}" is not valid: ${(error as Error).message}`, { cause: error })
      }
    }
    if (validators.size === 0) throw new JobTypesFileError(source, 'lists no job types')
    return new JobTypes(validators)
  }

  /** The types, in the file's order. */
  get names(): readonly string[] {
    return [...this.#validators.keys()]
  }

  /** Whether the file lists `type`. */
  has(type: string): boolean {
    return this.#validators.has(type)
  }

  /** The first way `payload` breaks the schema of `type`, or undefined when it fits (or the type has no schema). */
  payloadProblem(type: string, payload: unknown): PayloadProblem | undefined {
    const validate = this.#validators.get(type)
    if (!validate || validate(payload)) return undefined
    const issue: ErrorObject | undefined = validate.errors?.[0]
    return { path: issue?.instancePath ?? '', message: issue?.message ?? 'does not match the schema' }
  }
}

/** The job types file at `path`, or undefined when the setting is unset (every type is taken). */
export function loadJobTypes(path: string | undefined): JobTypes | undefined {
  return path === undefined ? undefined : JobTypes.load(path)
}
