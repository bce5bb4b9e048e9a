/** The validated configuration of one agent run, built from the parsed command line. */
import * as v from "valibot";
import { type RawOptions, UsageError } from "./cli.ts";

export const OUTPUT_FORMATS = ["json", "json-min"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** kflowd's rule: a prefix of 'json' means pretty JSON, longer ones must prefix 'json-min'. */
export function outputFormat(value: string): OutputFormat | undefined {
  if (value.length === 0) return undefined;
  if ("json".startsWith(value)) return "json";
  if (value.length > 5 && "json-min".startsWith(value)) return "json-min";
  return undefined;
}

const ConfigSchema = v.object({
  output: v.pipe(
    v.optional(v.string("option -o needs a format"), "json"),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const format = outputFormat(dataset.value);
      if (format) return format;
      addIssue({ message: `invalid output format '${dataset.value}' (expected json or json-min)` });
      return NEVER;
    }),
  ),
  hostToken: v.optional(
    v.pipe(
      v.string("option -T needs a token"),
      v.minLength(1, "option -T needs a non-empty token"),
      v.maxLength(255, "option -T takes at most 255 characters"),
    ),
  ),
  verbose: v.optional(v.boolean("option -V takes no value"), false),
});

export type Config = v.InferOutput<typeof ConfigSchema>;

/** Validates the parsed options; throws UsageError with the first problem. */
export function buildConfig(raw: RawOptions): Config {
  const result = v.safeParse(ConfigSchema, {
    output: raw.output,
    hostToken: raw.token,
    verbose: raw.verbose,
  });
  if (!result.success) throw new UsageError(result.issues[0].message);
  return result.output;
}
