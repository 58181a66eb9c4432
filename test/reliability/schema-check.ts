/** Whether a value fits a schema. */
export type SchemaCheck = (value: unknown) => boolean

// Keywords that only describe: they never refuse a value.
const ANNOTATIONS = new Set(['description', 'title', 'default', 'example', 'examples', 'format', '$id'])

/**
 * Compiles the JSON Schema subset the ingress's OpenAPI document uses for requests (type, pattern, length
 * and range bounds, required, properties, additionalProperties, not, items and their count), written here
 * rather than taken from the validator the ingress uses, so the fuzz's oracle does not share its mistakes. A keyword it does not know
 * throws, so a schema that grows one fails the fuzz loudly instead of being judged by half its rules.
 */
export function compileSchema(schema: object): SchemaCheck {
  const checks: SchemaCheck[] = []
  for (const [keyword, argument] of Object.entries(schema) as [string, unknown][]) {
    if (ANNOTATIONS.has(keyword)) continue
    switch (keyword) {
      case 'type':
        checks.push((value) => typeOf(value) === argument || (argument === 'number' && typeOf(value) === 'integer'))
        break
      case 'pattern': {
        // JSON Schema patterns are ECMA-262 with the unicode flag, as validators compile them.
        const pattern = new RegExp(argument as string, 'u')
        checks.push((value) => typeof value !== 'string' || pattern.test(value))
        break
      }
      case 'minLength':
        checks.push((value) => typeof value !== 'string' || [...value].length >= (argument as number))
        break
      case 'maxLength':
        checks.push((value) => typeof value !== 'string' || [...value].length <= (argument as number))
        break
      case 'minimum':
        checks.push((value) => typeof value !== 'number' || value >= (argument as number))
        break
      case 'maximum':
        checks.push((value) => typeof value !== 'number' || value <= (argument as number))
        break
      case 'required':
        checks.push((value) => !isObject(value) || (argument as string[]).every((name) => Object.hasOwn(value, name)))
        break
      case 'properties': {
        const properties = Object.entries(argument as Record<string, object>).map(([name, sub]) => [name, compileSchema(sub)] as const)
        checks.push((value) => !isObject(value) || properties.every(([name, check]) => !Object.hasOwn(value, name) || check(value[name])))
        break
      }
      case 'additionalProperties': {
        if (argument !== false) throw new Error(`schema check: additionalProperties ${JSON.stringify(argument)} is not supported`)
        const known = new Set(Object.keys((schema as { properties?: object }).properties ?? {}))
        checks.push((value) => !isObject(value) || Object.keys(value).every((name) => known.has(name)))
        break
      }
      case 'items': {
        const item = compileSchema(argument as object)
        checks.push((value) => !Array.isArray(value) || value.every(item))
        break
      }
      case 'minItems':
        checks.push((value) => !Array.isArray(value) || value.length >= (argument as number))
        break
      case 'maxItems':
        checks.push((value) => !Array.isArray(value) || value.length <= (argument as number))
        break
      case 'not': {
        const refused = compileSchema(argument as object)
        checks.push((value) => !refused(value))
        break
      }
      default:
        throw new Error(`schema check: keyword "${keyword}" is not supported`)
    }
  }
  return (value) => checks.every((check) => check(value))
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function typeOf(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (Number.isInteger(value)) return 'integer'
  return typeof value
}
