// What the page remembers between events, in one object that every module shares.

export const state = {
  token: null,
  // Who the token is, from GET api/me: { actor, role }. The page offers what the role may do.
  me: null,
  // Filters of the list on screen, and where its next page starts.
  filters: { q: '', status: '', unused_days: '' },
  cursor: null,
  // Bumped on every fresh load, so that a slow answer to an older one is dropped.
  generation: 0,
  // The key the revoke dialog is about, and the button to return focus to.
  revoking: null,
  returnFocus: null,
  // The key shown in the details dialog, and the ones the rotate and edit dialogs act on.
  detailed: null,
  rotating: null,
  editing: null,
  // The audit view's filters and paging, and the details dialog's own history paging.
  audit: { action: '', key_id: '', actor_id: '', cursor: null, generation: 0, loaded: false },
  keyAudit: { id: null, cursor: null, generation: 0 },
  // The identity list's search and paging; the identity in the details dialog (with its
  // keys) and that dialog's loads; what the suspend, resume or delete dialog is about.
  identities: { q: '', cursor: null, generation: 0 },
  identity: null,
  identityGeneration: 0,
  identityAction: null,
  // External ids of the identities the page has read, by id: a key's details name its
  // identity from here rather than asking the API again.
  identityNames: new Map(),
  // The issue form's identity choices' loads, and the ids given to new limit rows.
  identityChoices: 0,
  limitRows: 0,
  // The admin credential list's loads, and the credential each admin dialog acts on.
  admins: { generation: 0 },
  adminRotating: null,
  adminRevoking: null,
};
