-- The competence catalogue (DOMAIN.md, Competences). Legal: one responsible body per commune at any date;
-- facultative: several bodies may act. Holder kind CCAS means the commune's CCAS, or the commune itself
-- where it has none (CASF L123-4: communes under 1,500 inhabitants may dissolve their CCAS).
INSERT INTO competence (code, label, holder_kind, legal_basis, is_legal, sort_order) VALUES ('RSA_INSTRUCTION', 'Instruction des demandes de RSA', 'DEPARTEMENT', 'CASF L262-15 ; L262-16', '1', 1);
INSERT INTO competence (code, label, holder_kind, legal_basis, is_legal, sort_order) VALUES ('RSA_ACCOMPAGNEMENT', 'Orientation et accompagnement des bénéficiaires du RSA (référent unique)', 'DEPARTEMENT', 'CASF L262-27 à L262-39', '1', 2);
INSERT INTO competence (code, label, holder_kind, legal_basis, is_legal, sort_order) VALUES ('APA_INSTRUCTION', 'Instruction des demandes d''APA', 'DEPARTEMENT', 'CASF L232-12 ; L232-13', '1', 3);
INSERT INTO competence (code, label, holder_kind, legal_basis, is_legal, sort_order) VALUES ('APA_EVALUATION', 'Évaluation de la perte d''autonomie (équipe médico-sociale APA)', 'DEPARTEMENT', 'CASF L232-6 ; L232-14', '1', 4);
INSERT INTO competence (code, label, holder_kind, legal_basis, is_legal, sort_order) VALUES ('PCH_INSTRUCTION', 'Instruction de la prestation de compensation du handicap (MDPH)', 'DEPARTEMENT', 'CASF L245-1 à L245-14 ; L146-3', '1', 5);
INSERT INTO competence (code, label, holder_kind, legal_basis, is_legal, sort_order) VALUES ('ASE_PREVENTION', 'Aide sociale à l''enfance : actions de prévention', 'DEPARTEMENT', 'CASF L221-1', '1', 6);
INSERT INTO competence (code, label, holder_kind, legal_basis, is_legal, sort_order) VALUES ('FSL', 'Fonds de solidarité pour le logement', 'DEPARTEMENT', 'Loi 90-449 art. 6 ; CASF L115-3', '1', 7);
INSERT INTO competence (code, label, holder_kind, legal_basis, is_legal, sort_order) VALUES ('FAJ', 'Fonds d''aide aux jeunes', 'DEPARTEMENT', 'CASF L263-3 ; L263-4', '1', 8);
INSERT INTO competence (code, label, holder_kind, legal_basis, is_legal, sort_order) VALUES ('ASLL', 'Accompagnement social lié au logement', 'DEPARTEMENT', 'Loi 90-449 art. 6', '1', 9);
INSERT INTO competence (code, label, holder_kind, legal_basis, is_legal, sort_order) VALUES ('AIDE_SOCIALE_LEGALE_INSTRUCTION', 'Constitution des dossiers de demande d''aide sociale légale', 'CCAS', 'CASF L123-5 ; R123-5', '1', 10);
INSERT INTO competence (code, label, holder_kind, legal_basis, is_legal, sort_order) VALUES ('DOMICILIATION', 'Domiciliation des personnes sans domicile stable', 'CCAS', 'CASF L264-1 à L264-10', '1', 11);
INSERT INTO competence (code, label, holder_kind, legal_basis, is_legal, sort_order) VALUES ('ABS', 'Analyse des besoins sociaux annuelle', 'CCAS', 'CASF R123-1', '1', 12);
INSERT INTO competence (code, label, holder_kind, legal_basis, is_legal, sort_order) VALUES ('REGISTRE_VULNERABLES', 'Registre des personnes âgées et handicapées vulnérables', 'COMMUNE', 'CASF L121-6-1', '1', 13);
INSERT INTO competence (code, label, holder_kind, legal_basis, is_legal, sort_order) VALUES ('AIDE_URGENCE', 'Aides financières d''urgence', 'CCAS', 'CASF L123-5 (action sociale facultative)', '0', 14);
INSERT INTO competence (code, label, holder_kind, legal_basis, is_legal, sort_order) VALUES ('AIDE_ALIMENTAIRE', 'Aide alimentaire', 'CCAS', 'CASF L123-5 ; L266-1 (action sociale facultative)', '0', 15);
INSERT INTO competence (code, label, holder_kind, legal_basis, is_legal, sort_order) VALUES ('PORTAGE_REPAS', 'Portage de repas à domicile', 'CCAS', 'CASF L123-5 (action sociale facultative)', '0', 16);
INSERT INTO competence (code, label, holder_kind, legal_basis, is_legal, sort_order) VALUES ('PETITE_ENFANCE_EAJE', 'Établissements d''accueil du jeune enfant', 'COMMUNE', 'CSP L2324-1 (action facultative)', '0', 17);
INSERT INTO competence (code, label, holder_kind, legal_basis, is_legal, sort_order) VALUES ('EHPAD_GESTION', 'Gestion d''EHPAD et de résidences autonomie', 'CCAS', 'CASF L312-1 (action facultative)', '0', 18);
INSERT INTO competence (code, label, holder_kind, legal_basis, is_legal, sort_order) VALUES ('TRANSPORT_SOLIDAIRE', 'Transport solidaire', 'COMMUNE', 'Action sociale facultative', '0', 19);
