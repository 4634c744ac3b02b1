// The admins' Users dialog on the library page: the users, a new one, a role changed, a
// password set, one removed. Every refusal shows the server's own message (a taken name, a
// weak password, the last admin), so the page needs no rules of its own.
import { api, askToSignIn, currentUser, el, loadSession } from './common.js';

const ROLES = ['admin', 'uploader', 'viewer'];
const dialog = document.getElementById('users-dialog');
const list = document.getElementById('users-list');
const status = document.getElementById('users-status');
const form = document.getElementById('user-create');
const json = (body) => ({ headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

function say(text, failed = false) {
  status.textContent = text;
  status.classList.toggle('error', failed);
}

// After a change to the signed-in admin's own account: a new role shows other controls, a
// new password ended every session of theirs, this one included.
async function ownAccountChanged(reason) {
  if (await loadSession()) return;
  dialog.close();
  askToSignIn(reason);
}

function roleSelect(user) {
  const select = el('select', { class: 'role', 'aria-label': `Role of ${user.name}` },
    ...ROLES.map((role) => el('option', { value: role, text: role })));
  select.value = user.role;
  select.addEventListener('change', async () => {
    try {
      const saved = await api(`/api/v1/users/${user.id}`, { method: 'PATCH', ...json({ role: select.value }) });
      user.role = saved.role;
      say(`${saved.name} is ${saved.role} now.`);
      if (saved.id === currentUser().id) await ownAccountChanged('Your role changed: sign in again.');
    } catch (error) {
      select.value = user.role;  // the server kept the old one
      say(`${user.name}'s role not changed: ${error.message}`, true);
    }
  });
  return select;
}

function passwordForm(user) {
  const input = el('input', { type: 'password', name: 'password', placeholder: 'New password',
    autocomplete: 'new-password', 'aria-label': `New password for ${user.name}` });
  // The hidden name tells password managers whose password this is.
  const setForm = el('form', { class: 'set-password' },
    el('input', { type: 'text', name: 'username', autocomplete: 'username', value: user.name, hidden: true }),
    input, el('button', { class: 'small', text: 'Set' }));
  setForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await api(`/api/v1/users/${user.id}`, { method: 'PATCH', ...json({ password: input.value }) });
      input.value = '';
      say(`${user.name} has a new password; their sessions ended.`);
      if (user.id === currentUser().id) await ownAccountChanged('Your password changed: sign in with the new one.');
      else await refresh(false);
    } catch (error) {
      say(`${user.name}'s password not set: ${error.message}`, true);
    }
  });
  return setForm;
}

// "Remove…" asks in the row itself: the user's videos pass to the admin who removes them.
function removeCell(user) {
  const cell = el('td', { class: 'row-actions' });
  const remove = el('button', { type: 'button', class: 'small danger', text: 'Remove…' });
  const ask = () => {
    const keep = el('button', { type: 'button', class: 'small', text: 'Keep' });
    const really = el('button', { type: 'button', class: 'small danger confirm', text: `Remove ${user.name}` });
    keep.addEventListener('click', () => cell.replaceChildren(remove));
    really.addEventListener('click', async () => {
      really.disabled = true;
      try {
        await api(`/api/v1/users/${user.id}`, { method: 'DELETE' });
        say(`${user.name} was removed; their videos are yours now.`);
        await refresh(false);
      } catch (error) {
        say(`${user.name} not removed: ${error.message}`, true);
        cell.replaceChildren(remove);
      }
    });
    cell.replaceChildren(keep, really);
    really.focus();
  };
  remove.addEventListener('click', ask);
  cell.append(remove);
  return cell;
}

function userRow(user) {
  const me = currentUser();
  return el('tr', { 'data-id': user.id, 'data-name': user.name },
    el('th', { scope: 'row' }, user.name, me && me.id === user.id ? el('span', { class: 'hint', text: ' (you)' }) : null),
    el('td', {}, roleSelect(user)),
    el('td', {}, user.has_password ? null : el('span', { class: 'hint', text: 'none yet ' }), passwordForm(user)),
    removeCell(user));
}

// `clear`: a fresh look (the dialog opened), not the answer to a change whose message stays.
async function refresh(clear = true) {
  if (clear) say('Loading…');
  try {
    const { users } = await api('/api/v1/users');
    list.replaceChildren(...users.map(userRow));
    if (clear) say(`${users.length} user${users.length === 1 ? '' : 's'}`);
  } catch (error) {
    say(`Could not list the users: ${error.message}`, true);
  }
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const name = form.elements.name.value.trim();
  try {
    const user = await api('/api/v1/users', { method: 'POST',
      ...json({ name, role: form.elements.role.value, password: form.elements.password.value }) });
    form.reset();
    say(`${user.name} was created (${user.role}).`);
    await refresh(false);
  } catch (error) {
    say(`${name} not created: ${error.message}`, true);
  }
});
form.querySelector('button[value=close]').addEventListener('click', () => dialog.close());
document.getElementById('users-button').addEventListener('click', () => {
  dialog.showModal();
  refresh();
});
