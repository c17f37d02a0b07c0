import * as z from 'zod';

/**
 * The hub's error body as documented in OpenAPI: exactly what `AppError.toBody()` answers (and the
 * bare 500 of `errorResponse`). Partner routes document their own shapes (OAuth, Zuora, AppDirect).
 */
export const errorBodySchema = z
  .object({
    error: z.string().describe('Machine-readable code, e.g. VALIDATION_FAILED, INSUFFICIENT_SCOPE'),
    message: z.string().describe('Human sentence naming the problem'),
    details: z
      .array(
        z.object({
          field: z.string().describe('Dotted path of the offending field (`body` for the whole body)'),
          message: z.string(),
        }),
      )
      .describe('The fields at fault (400); empty otherwise'),
  })
  .meta({ id: 'Error' });
