/**
 * The pre-React paint (docs/ui.md, "Build"): when the page opens on the Contacts screen and the
 * document carries its boot data (boot.ts), the header, the tab bar and the contacts list's first
 * rows are drawn with plain DOM calls, the same elements and classes React renders
 * (App.tsx, ContactsScreen.tsx), so that the rows are on screen before React's chunk is evaluated.
 * Every control in it is inert — buttons disabled, the search field read-only — until React
 * replaces it (start.tsx), so a click or a keystroke is never taken by an element about to go; the
 * `prepaint` class keeps the disabled controls looking as they will (styles.css). Text goes in as
 * text (`textContent`), never as markup.
 */
import { peekBoot } from './boot.js'
import { ROW_HEIGHT, ROW_TIMING, visibleRows } from './list-geometry.js'
import type { ApiContact } from './types.js'

type Attrs = Record<string, string>

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v)
  e.append(...children)
  return e
}

/** Draws the Contacts screen into `root` when `hash` opens it and the boot data has its first page; returns whether it drew. */
export function prepaint(root: HTMLElement, hash: string): boolean {
  if (hash !== '#contacts') return false
  const { status, contacts } = peekBoot()
  if (status === undefined || contacts === undefined || contacts.offset !== 0) return false

  const tabs = el('nav', { 'aria-label': 'Screens', role: 'tablist' })
  for (const [id, label] of [
    ['sync', 'Sync'],
    ['qr', 'QR'],
    ['contacts', 'Contacts'],
  ] as const) {
    tabs.append(el('button', { role: 'tab', 'aria-selected': String(id === 'contacts'), 'aria-controls': `panel-${id}`, id: `tab-${id}`, disabled: '' }, label))
  }
  const header = el('header', { class: 'top' }, el('h1', {}, 'Orbit Sync'), el('span', { class: 'who', 'data-testid': 'who' }, `${status.device.name} · ${status.workspace.name}`), tabs)

  const total = contacts.total
  const list = el('ul', { class: 'rows', 'aria-label': 'Contacts', style: `height: ${total * ROW_HEIGHT}px` })
  const viewport = el('div', { class: 'viewport', 'data-testid': 'contacts-viewport' }, list)
  const search = el('input', { id: 'contact-search', type: 'search', placeholder: 'Search contacts', readonly: '' })
  const card = el(
    'div',
    { class: 'contacts-list card' },
    el(
      'div',
      { class: 'row' },
      el('label', { for: 'contact-search', class: 'sr-only' }, 'Search contacts'),
      search,
      el('button', { disabled: '' }, 'Add contact'),
      el('label', { class: 'small' }, el('input', { type: 'checkbox', disabled: '' }), ' Show removed'),
    ),
    el('p', { class: 'muted small', 'data-testid': 'contacts-total', 'aria-live': 'polite' }, `${total} contact${total === 1 ? '' : 's'}`),
    viewport,
  )
  const app = el(
    'div',
    { class: 'app prepaint' },
    header,
    el('section', { id: 'panel-contacts', role: 'tabpanel', 'aria-labelledby': 'tab-contacts', class: 'panel' }, el('div', { class: 'contacts' }, card)),
  )
  root.replaceChildren(app)

  // The rows a viewport as tall as the window could show: the window's height is known without a
  // layout (the viewport's own would force one before the rows are in, and another after); React's
  // list measures the viewport when it takes over and draws from there.
  const { first, last } = visibleRows(0, window.innerHeight, total)
  for (let i = first; i <= last; i++) list.append(row(i, contacts.items[i]))
  return true
}

function row(i: number, c: ApiContact | undefined): HTMLLIElement {
  const li = el('li', { style: `top: ${i * ROW_HEIGHT}px; height: ${ROW_HEIGHT}px` })
  if (c === undefined) {
    li.append(el('span', { class: 'muted' }, '…'))
    return li
  }
  li.append(el('button', { class: 'rowbtn', 'data-testid': 'contact-row', disabled: '' }, logo(c), el('span', { class: 'name', elementtiming: ROW_TIMING }, c.name), el('span', { class: 'muted small' }, c.emails[0] ?? '')))
  return li
}

/** As contact-bits.tsx's `Logo` first renders it (the image, or the initial when there is none or it fails). */
function logo(c: ApiContact): HTMLElement {
  const placeholder = (): HTMLElement => el('span', { class: 'logo placeholder', 'aria-hidden': 'true', ...(c.logo === undefined ? {} : { title: 'image pending' }) }, c.name.slice(0, 1).toUpperCase())
  if (c.logo === undefined) return placeholder()
  const img = el('img', { class: 'logo', alt: '', src: `/api/v1/blobs/${encodeURIComponent(c.logo)}?v=0` })
  img.addEventListener('error', () => img.replaceWith(placeholder()), { once: true })
  return img
}
