import { fileURLToPath } from 'node:url';

/**
 * The project's demo restricted-party list (fictional entries): what the local `screening` sandbox
 * serves and the local stage's `SCREENING_LIST_PATH`. It lives under `local/` so no Lambda bundle
 * can carry it.
 */
export const DEMO_LIST_PATH = fileURLToPath(new URL('./demo-list.json', import.meta.url));
