/** The page's entry: mounts {@link App} (docs/ui.md). */
import { createRoot } from 'react-dom/client'
import { App } from './App.js'
import './styles.css'

const root = document.getElementById('root')
if (root !== null) createRoot(root).render(<App />)
