/**
 * The contact editor: a form whose server-side validation errors land on their own field
 * (`aria-invalid` + a message tied by `aria-describedby`), a logo upload, remove, and notes.
 */
import { useEffect, useState, type FormEvent } from 'react'
import { api, ApiError, describeError } from './api.js'
import { Logo, onField } from './contact-bits.js'
import type { ApiContact, ContactForm } from './types.js'

const FIELDS = ['name', 'emails', 'phones', 'title', 'tags'] as const
type Field = (typeof FIELDS)[number]
const LABELS: Record<Field, string> = { name: 'Name', emails: 'Emails (comma-separated)', phones: 'Phones (comma-separated)', title: 'Title', tags: 'Tags (comma-separated)' }

const split = (s: string): string[] => s.split(',').map((x) => x.trim()).filter((x) => x !== '')

/** Add (no `id`) or edit one contact. */
export function ContactEditor(props: { id: string | undefined; version: number; blobsDone: number; onClose: () => void; onSaved: (c: ApiContact) => void; onRemove: (c: ApiContact) => void }) {
  const { id } = props
  const [contact, setContact] = useState<ApiContact | undefined>()
  const [values, setValues] = useState<Record<Field, string>>({ name: '', emails: '', phones: '', title: '', tags: '' })
  const [logo, setLogo] = useState<string | undefined>()
  const [error, setError] = useState<unknown>()
  const [saved, setSaved] = useState<string | undefined>()
  const [note, setNote] = useState('')

  /** Fetches the contact; `fill` also puts it in the form (not on a pushed refresh: it would overwrite typing). */
  const load = async (cid: string, fill = true): Promise<void> => {
    try {
      const c = await api.contact(cid)
      setContact(c)
      if (!fill) return
      setLogo(c.logo)
      setValues({ name: c.name, emails: c.emails.join(', '), phones: c.phones.join(', '), title: c.title ?? '', tags: Object.keys(c.tags).join(', ') })
    } catch (e) {
      setError(e)
    }
  }
  useEffect(() => {
    // Loads when opened on a contact; after an Add the form already shows what was saved.
    if (id !== undefined && contact?.id !== id) void load(id)
  }, [id])
  // The listing changed (here or synced from another device): notes and the rest shown refresh.
  useEffect(() => {
    if (id !== undefined && props.version > 0) void load(id, false)
  }, [props.version])

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault()
    setError(undefined)
    setSaved(undefined)
    const form: ContactForm = { name: values.name.trim(), emails: split(values.emails), phones: split(values.phones), tags: split(values.tags) }
    if (values.title.trim() !== '') form.title = values.title.trim()
    if (logo !== undefined) form.logo = logo
    try {
      const c =
        id === undefined
          ? await api.addContact(form)
          : await api.editContact(id, { ...form, title: values.title.trim() === '' ? null : values.title.trim() })
      setSaved(id === undefined ? 'Contact added.' : 'Saved.')
      setContact(c)
      props.onSaved(c)
    } catch (err) {
      setError(err)
    }
  }

  const upload = async (file: File | undefined): Promise<void> => {
    if (file === undefined) return
    try {
      const { hash } = await api.putBlob(file)
      setLogo(hash)
      setError(undefined)
    } catch (e) {
      // Whatever the server names (the body, its Content-Type, the size), it is this field's error.
      setError(e instanceof ApiError ? new ApiError(e.message, { status: e.status, code: e.code, field: 'logo' }) : e)
    }
  }

  const addNote = async (e: FormEvent): Promise<void> => {
    e.preventDefault()
    if (id === undefined) return
    try {
      await api.addNote(id, note.trim())
      setNote('')
      await load(id, false)
    } catch (err) {
      setError(err)
    }
  }

  const fieldError = (f: string): string | undefined => onField(error, f)
  const general = error !== undefined && FIELDS.every((f) => fieldError(f) === undefined) && fieldError('logo') === undefined && fieldError('text') === undefined ? describeError(error) : undefined
  const notes = Object.values(contact?.notes ?? {}).filter((n) => n.deletedAt === undefined).sort((a, b) => b.at - a.at)

  return (
    <aside className="editor card" aria-labelledby="h-editor">
      <h2 id="h-editor">{id === undefined ? 'New contact' : `Edit ${contact?.name ?? '…'}`}</h2>
      <form onSubmit={(e) => void submit(e)} noValidate data-testid="contact-form">
        {FIELDS.map((f) => {
          const err = fieldError(f)
          return (
            <div key={f} className="field">
              <label htmlFor={`f-${f}`}>{LABELS[f]}</label>
              <input
                id={`f-${f}`}
                name={f}
                value={values[f]}
                onChange={(e) => setValues((v) => ({ ...v, [f]: e.target.value }))}
                aria-invalid={err !== undefined}
                aria-describedby={err === undefined ? undefined : `e-${f}`}
              />
              {err !== undefined && (
                <span id={`e-${f}`} className="field-error" role="alert" data-testid={`error-${f}`}>
                  {err}
                </span>
              )}
            </div>
          )
        })}
        <div className="field">
          <label htmlFor="f-logo">Logo</label>
          <div className="row">
            <Logo hash={logo} name={values.name || '?'} version={props.blobsDone} />
            <input id="f-logo" type="file" accept="image/*" onChange={(e) => void upload(e.target.files?.[0])} aria-describedby={fieldError('logo') === undefined ? undefined : 'e-logo'} />
          </div>
          {fieldError('logo') !== undefined && <span id="e-logo" className="field-error" role="alert">{fieldError('logo')}</span>}
        </div>
        {general !== undefined && <p className="error" role="alert">{general}</p>}
        {saved !== undefined && <p className="ok" role="status">{saved}</p>}
        <div className="row">
          <button type="submit">{id === undefined ? 'Add' : 'Save'}</button>
          {contact !== undefined && (
            <button type="button" onClick={() => props.onRemove(contact)}>
              Remove
            </button>
          )}
          <button type="button" onClick={props.onClose}>Close</button>
        </div>
      </form>
      {id !== undefined && (
        <section aria-labelledby="h-notes">
          <h3 id="h-notes">Notes</h3>
          <ul className="notes">
            {notes.map((n) => (
              <li key={n.id}>
                <span className="muted small">{new Date(n.at).toLocaleString()} · {n.kind}</span>
                <div>{n.body}</div>
              </li>
            ))}
          </ul>
          <form onSubmit={(e) => void addNote(e)}>
            <label htmlFor="f-note">Add a note</label>
            <textarea id="f-note" rows={2} value={note} onChange={(e) => setNote(e.target.value)} aria-invalid={fieldError('text') !== undefined} />
            {fieldError('text') !== undefined && <span className="field-error" role="alert">{fieldError('text')}</span>}
            <button type="submit" disabled={note.trim() === ''}>Add note</button>
          </form>
        </section>
      )}
    </aside>
  )
}
