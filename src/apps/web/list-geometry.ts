/**
 * The contacts list's geometry, shared by the React list (ContactsScreen.tsx) and the pre-React
 * paint (prepaint.ts), so both draw the same rows at the same places (docs/ui.md).
 */

/** Height of one row, pixels: fixed, so a row's position is its index times this. */
export const ROW_HEIGHT = 44
/** Contacts per request (the API's largest `limit`). */
export const PAGE_SIZE = 200
/** Rows drawn beyond each edge of the viewport. */
export const OVERSCAN = 8

/** The rows to draw, first and last index inclusive (last < first: none), for a scroll position and viewport height. */
export function visibleRows(scrollTop: number, height: number, total: number): { first: number; last: number } {
  return {
    first: Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN),
    last: Math.min(total - 1, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN),
  }
}

/**
 * The Element Timing identifier on each row's name (`elementtiming` attribute): the browser then
 * reports when the first row was painted, which bench/web.ts reads as the first page's clock.
 */
export const ROW_TIMING = 'contact-row'
