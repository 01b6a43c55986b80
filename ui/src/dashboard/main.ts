// Entry point of the TSP dashboard (`/dashboard`): the companion's styles, then the dashboard's own.
import { mount } from 'svelte';
import { addCatalogue } from '../lib/i18n/index.svelte';
import Dashboard from './Dashboard.svelte';
import { dashEn } from './i18n/en';
import { dashZhCN } from './i18n/zh-CN';
import '../app.css';
import './dashboard.css';

addCatalogue({ en: dashEn, 'zh-CN': dashZhCN });
const target = document.getElementById('app');
if (target) mount(Dashboard, { target });
