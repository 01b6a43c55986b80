// Entry point of the TSP dashboard (`/dashboard`): the companion's styles, then the dashboard's own.
import { mount } from 'svelte';
import Dashboard from './Dashboard.svelte';
import '../app.css';
import './dashboard.css';

const target = document.getElementById('app');
if (target) mount(Dashboard, { target });
