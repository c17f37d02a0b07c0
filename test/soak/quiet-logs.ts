/**
 * Imported first by the soak: the functions' loggers (`shared/logger.ts`) read their level once, at
 * import, and the soak's own imports (DynamoDB helpers, the Zuora store it reads the model with)
 * load them before the drain runs the suite in this process; the table must stay readable.
 */
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
