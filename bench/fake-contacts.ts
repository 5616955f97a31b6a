/** Deterministic fake contacts for benches: the same inputs on every run. */

const FIRST = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Margaret', 'Ken', 'Radia', 'Linus', 'Frances', 'John', 'Katherine', 'Dennis', 'Hedy', 'Tim']
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Hamilton', 'Thompson', 'Perlman', 'Torvalds', 'Allen', 'Backus', 'Johnson', 'Ritchie', 'Lamarr', 'Berners-Lee']
const TITLES = ['Engineer', 'Director of Sales', 'CTO', 'Account Manager', 'Designer', 'Founder']
const TAGS = ['vip', 'lead', 'customer', 'partner', 'press']

/** The `i`-th fake contact input (valid for `parseContactInput`). */
export function fakeContact(i: number): { name: string; emails: string[]; phones: string[]; title: string; tags: string[] } {
  const first = FIRST[(i * 7) % FIRST.length]!
  const last = LAST[(i * 13 + 5) % LAST.length]!
  return {
    name: `${first} ${last} ${i}`,
    emails: [`${first}.${last}.${i}@example.com`.toLowerCase()],
    phones: [`+1 555 ${String(i % 10000).padStart(4, '0')}`],
    title: TITLES[i % TITLES.length]!,
    tags: [TAGS[i % TAGS.length]!],
  }
}
