/**
 * Contacts: a virtualised list (only the visible rows are in the DOM; pages of 200 are fetched
 * from the daemon's index as they scroll into view), search as you type, "Show removed" (each
 * removed contact with its Restore button), and an editor for add, edit, remove, restore, logo and
 * notes, each validation error shown on its field (docs/ui.md).
 */
import { useCallback, useEffect, useRef, useState } from 'react'
import { api, describeError } from './api.js'
import { takeBootContacts } from './boot.js'
import { Logo } from './contact-bits.js'
import { ContactEditor } from './ContactEditor.js'
import { PAGE_SIZE, ROW_HEIGHT, ROW_TIMING, visibleRows } from './list-geometry.js'
import type { ApiContact } from './types.js'

export { PAGE_SIZE, ROW_HEIGHT } from './list-geometry.js'

// React's types do not know the Element Timing attribute; React passes it through as written.
const ROW_TIMING_ATTR = { elementtiming: ROW_TIMING } as Record<string, string>

/** The contacts screen. `version` changes when the daemon says the listing changed. */
export function ContactsScreen({ version, blobsDone }: { version: number; blobsDone: number }) {
  const [query, setQuery] = useState('')
  // Removed contacts too (each with its Restore button): a removal from last week can be undone.
  const [showRemoved, setShowRemoved] = useState(false)
  // The first page as the document carried it (boot.ts): the first paint has its rows, no request before it.
  const [booted] = useState(() => takeBootContacts())
  const [total, setTotal] = useState<number | undefined>(booted?.total)
  const [rows, setRows] = useState<Map<number, ApiContact>>(() => new Map(booted?.items.map((c, i) => [booted.offset + i, c])))
  const [error, setError] = useState<string | undefined>()
  const [selected, setSelected] = useState<string | 'new' | undefined>()
  // The editor's identity: a new one for each contact picked (or each Add), not when an added contact gets its id.
  const [editorKey, setEditorKey] = useState(0)
  const open = (id: string | 'new'): void => {
    setSelected(id)
    setEditorKey((k) => k + 1)
  }
  const [removed, setRemoved] = useState<{ id: string; name: string } | undefined>()
  const [scrollTop, setScrollTop] = useState(0)
  const [height, setHeight] = useState(480)
  const viewport = useRef<HTMLDivElement>(null)
  const pages = useRef(new Map<number, Promise<void>>(booted === undefined ? [] : [[Math.floor(booted.offset / PAGE_SIZE), Promise.resolve()]]))
  // Set while the booted page stands for the first load (query "", removed ones left out, the version it came with).
  const bootPending = useRef(booted !== undefined)
  const generation = useRef(0)

  const loadPage = useCallback(
    (page: number, q: string, gen: number, withRemoved: boolean): Promise<void> => {
      const existing = pages.current.get(page)
      if (existing !== undefined) return existing
      const p = api.contacts(q, page * PAGE_SIZE, PAGE_SIZE, withRemoved).then(
        (res) => {
          if (gen !== generation.current) return
          setTotal(res.total)
          setError(undefined)
          setRows((old) => {
            const next = new Map(old)
            res.items.forEach((c, i) => next.set(res.offset + i, c))
            return next
          })
        },
        (e: unknown) => {
          pages.current.delete(page)
          if (gen === generation.current) setError(describeError(e))
        },
      )
      pages.current.set(page, p)
      return p
    },
    [],
  )

  // A new query or a changed listing: start over from the page in view (no polling: `version` is pushed).
  // Typing waits for a pause (120 ms); the first load and a pushed change do not. A pushed change
  // keeps the rows on screen until their page is read again (no flash of empty rows); another query
  // or "Show removed" clears them at once.
  const lastQuery = useRef(query)
  // Which listing the rows on screen belong to.
  const rowsListing = useRef(`${showRemoved}:${query}`)
  useEffect(() => {
    if (bootPending.current) {
      // The first run: page 0 came with the document, nothing to fetch.
      bootPending.current = false
      return
    }
    const gen = ++generation.current
    const typed = lastQuery.current !== query
    lastQuery.current = query
    const timer = setTimeout(
      () => {
        pages.current = new Map()
        const listing = `${showRemoved}:${query}`
        if (rowsListing.current !== listing) {
          rowsListing.current = listing
          setRows(new Map())
        }
        void loadPage(Math.floor(scrollTopRef.current / ROW_HEIGHT / PAGE_SIZE), query, gen, showRemoved)
      },
      typed ? 120 : 0,
    )
    return () => clearTimeout(timer)
  }, [query, version, showRemoved, loadPage])

  const scrollTopRef = useRef(0)
  const { first, last } = visibleRows(scrollTop, height, total ?? 0)

  useEffect(() => {
    if (total === undefined || last < first) return
    for (let page = Math.floor(first / PAGE_SIZE); page <= Math.floor(last / PAGE_SIZE); page++) {
      void loadPage(page, query, generation.current, showRemoved)
    }
  }, [first, last, total, query, showRemoved, loadPage])

  useEffect(() => {
    const el = viewport.current
    if (el === null) return
    const measure = (): void => setHeight(el.clientHeight)
    measure()
    const ro = new ResizeObserver(measure)
    ro.observe(el)
    return () => ro.disconnect()
  }, [])

  const remove = async (c: ApiContact): Promise<void> => {
    try {
      await api.removeContact(c.id)
      setRemoved({ id: c.id, name: c.name })
      setSelected(undefined)
    } catch (e) {
      setError(describeError(e))
    }
  }
  const restore = async (id: string | undefined = removed?.id): Promise<void> => {
    if (id === undefined) return
    try {
      await api.restoreContact(id)
      if (id === removed?.id) setRemoved(undefined)
    } catch (e) {
      setError(describeError(e))
    }
  }

  const visible: number[] = []
  for (let i = first; i <= last; i++) visible.push(i)

  return (
    <div className="contacts">
      <div className="contacts-list card">
        <div className="row">
          <label htmlFor="contact-search" className="sr-only">Search contacts</label>
          <input id="contact-search" type="search" placeholder="Search contacts" value={query} onChange={(e) => setQuery(e.target.value)} />
          <button onClick={() => open('new')}>Add contact</button>
          <label className="small">
            <input type="checkbox" checked={showRemoved} onChange={(e) => setShowRemoved(e.target.checked)} /> Show removed
          </label>
        </div>
        <p className="muted small" data-testid="contacts-total" aria-live="polite">
          {total === undefined ? 'Loading…' : `${total} contact${total === 1 ? '' : 's'}`}
        </p>
        {error !== undefined && <p className="error" role="alert">{error}</p>}
        {removed !== undefined && (
          <p className="ok" role="status">
            Removed {removed.name}. <button onClick={() => void restore()}>Restore</button>
          </p>
        )}
        <div
          className="viewport"
          ref={viewport}
          data-testid="contacts-viewport"
          onScroll={(e) => {
            scrollTopRef.current = e.currentTarget.scrollTop
            setScrollTop(e.currentTarget.scrollTop)
          }}
        >
          <ul style={{ height: (total ?? 0) * ROW_HEIGHT }} className="rows" aria-label="Contacts">
            {visible.map((i) => {
              const c = rows.get(i)
              return (
                <li key={c?.id ?? `i${i}`} style={{ top: i * ROW_HEIGHT, height: ROW_HEIGHT }} className={c !== undefined && c.id === selected ? 'selected' : ''}>
                  {c === undefined ? (
                    <span className="muted">…</span>
                  ) : c.deletedAt !== undefined ? (
                    <span className="rowbtn removed" data-testid="contact-row">
                      <Logo hash={c.logo} name={c.name} version={blobsDone} />
                      <span className="name" {...ROW_TIMING_ATTR}>{c.name}</span>
                      <span className="muted small">removed</span>
                      <button onClick={() => void restore(c.id)}>Restore {c.name}</button>
                    </span>
                  ) : (
                    <button className="rowbtn" onClick={() => open(c.id)} data-testid="contact-row">
                      <Logo hash={c.logo} name={c.name} version={blobsDone} />
                      <span className="name" {...ROW_TIMING_ATTR}>{c.name}</span>
                      <span className="muted small">{c.emails[0] ?? ''}</span>
                    </button>
                  )}
                </li>
              )
            })}
          </ul>
        </div>
      </div>
      {selected !== undefined && (
        <ContactEditor
          key={editorKey}
          id={selected === 'new' ? undefined : selected}
          version={version}
          blobsDone={blobsDone}
          onClose={() => setSelected(undefined)}
          onSaved={(c) => setSelected(c.id)}
          onRemove={(c) => void remove(c)}
        />
      )}
    </div>
  )
}
