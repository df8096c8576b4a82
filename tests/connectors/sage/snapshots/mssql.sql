SELECT (SELECT max([F_COMPTET].[cbModification]) AS max_1 
FROM [F_COMPTET]) AS [F_COMPTET], (SELECT max([F_CONTACTT].[cbModification]) AS max_2 
FROM [F_CONTACTT]) AS [F_CONTACTT], (SELECT max([F_DRECOUVREMENT].[cbModification]) AS max_3 
FROM [F_DRECOUVREMENT]) AS [F_DRECOUVREMENT], (SELECT max([F_DRECOUVREMENTEC].[cbModification]) AS max_4 
FROM [F_DRECOUVREMENTEC]) AS [F_DRECOUVREMENTEC]
;
SELECT (SELECT max([F_COMPTET].[cbModification]) AS max_1 
FROM [F_COMPTET]) AS [F_COMPTET], (SELECT max([F_CONTACTT].[cbModification]) AS max_2 
FROM [F_CONTACTT]) AS [F_CONTACTT], (SELECT max([F_ECRITUREC].[cbModification]) AS max_3 
FROM [F_ECRITUREC]) AS [F_ECRITUREC], (SELECT max([F_DRECOUVREMENT].[cbModification]) AS max_4 
FROM [F_DRECOUVREMENT]) AS [F_DRECOUVREMENT], (SELECT max([F_DRECOUVREMENTEC].[cbModification]) AS max_5 
FROM [F_DRECOUVREMENTEC]) AS [F_DRECOUVREMENTEC]
;
SELECT HAS_PERMS_BY_NAME(:object, 'OBJECT', 'UPDATE', :column, 'COLUMN')
;
SELECT TOP __[POSTCOMPILE_param_1] :param_2 AS anon_1 
FROM [F_COMPTET]
;
SELECT TOP __[POSTCOMPILE_param_1] :param_2 AS anon_1 
FROM [F_CONTACTT]
;
SELECT TOP __[POSTCOMPILE_param_1] :param_2 AS anon_1 
FROM [F_DRECOUVREMENTEC]
;
SELECT TOP __[POSTCOMPILE_param_1] :param_2 AS anon_1 
FROM [F_DRECOUVREMENT]
;
SELECT TOP __[POSTCOMPILE_param_1] :param_2 AS anon_1 
FROM [F_ECRITUREC]
;
SELECT TOP __[POSTCOMPILE_param_1] :param_2 AS anon_1 
FROM [P_LITIGE]
;
SELECT TOP __[POSTCOMPILE_param_1] :param_2 AS anon_1 
FROM [cbSysLibre]
;
SELECT [F_COMPTET].[CT_Num] 
FROM [F_COMPTET] 
WHERE [F_COMPTET].[cbModification] >= :since UNION SELECT [F_CONTACTT].[CT_Num] 
FROM [F_CONTACTT] 
WHERE [F_CONTACTT].[cbModification] >= :since
;
SELECT [F_COMPTET].[CT_Num], [F_COMPTET].[CT_Intitule], [F_COMPTET].[CT_EMail], [F_COMPTET].[CT_Telephone], [F_COMPTET].[CT_Sommeil], [F_COMPTET].[CT_NotRappel], [F_COMPTET].[CT_Encours], [F_COMPTET].[CO_No], [F_COMPTET].[cbCreation] 
FROM [F_COMPTET] 
WHERE [F_COMPTET].[CT_Type] = :CT_Type_1
;
SELECT [F_COMPTET].[CT_Num], [F_COMPTET].[CT_Intitule], [F_COMPTET].[CT_EMail], [F_COMPTET].[CT_Telephone], [F_COMPTET].[CT_Sommeil], [F_COMPTET].[CT_NotRappel], [F_COMPTET].[CT_Encours], [F_COMPTET].[CO_No], [F_COMPTET].[cbCreation] 
FROM [F_COMPTET] 
WHERE [F_COMPTET].[CT_Type] = :CT_Type_1 AND [F_COMPTET].[CT_Num] IN (__[POSTCOMPILE_accounts])
;
SELECT [F_COMPTET].[Litige] 
FROM [F_COMPTET] 
WHERE 0 = 1
;
SELECT [F_COMPTET].[Relance niveau] 
FROM [F_COMPTET] 
WHERE 0 = 1
;
SELECT [F_COMPTET].[cbMarq], [F_COMPTET].[CT_Num], [F_COMPTET].[Relance niveau], [F_COMPTET].[Litige] 
FROM [F_COMPTET] 
WHERE [F_COMPTET].[CT_Type] = :CT_Type_1 AND [F_COMPTET].[CT_Num] IN (__[POSTCOMPILE_accounts])
;
SELECT [F_CONTACTT].[CT_Num], [F_CONTACTT].[CT_No], [F_CONTACTT].[CT_Fonction], [F_CONTACTT].[N_Service], [F_CONTACTT].[CT_EMail], [F_CONTACTT].[CT_Telephone], [F_CONTACTT].[CT_TelPortable] 
FROM [F_CONTACTT] JOIN [F_COMPTET] ON [F_COMPTET].[CT_Num] = [F_CONTACTT].[CT_Num] 
WHERE [F_COMPTET].[CT_Type] = :CT_Type_1 AND [F_CONTACTT].[CT_Num] IN (__[POSTCOMPILE_accounts]) ORDER BY [F_CONTACTT].[CT_Num], [F_CONTACTT].[CT_No]
;
SELECT [F_CONTACTT].[CT_Num], [F_CONTACTT].[CT_No], [F_CONTACTT].[CT_Fonction], [F_CONTACTT].[N_Service], [F_CONTACTT].[CT_EMail], [F_CONTACTT].[CT_Telephone], [F_CONTACTT].[CT_TelPortable] 
FROM [F_CONTACTT] JOIN [F_COMPTET] ON [F_COMPTET].[CT_Num] = [F_CONTACTT].[CT_Num] 
WHERE [F_COMPTET].[CT_Type] = :CT_Type_1 ORDER BY [F_CONTACTT].[CT_Num], [F_CONTACTT].[CT_No]
;
SELECT [F_DRECOUVREMENTEC].[EC_No], [F_DRECOUVREMENT].[DR_Num], [F_DRECOUVREMENT].[DR_DateDebut], [F_DRECOUVREMENT].[DR_DateFin], [F_DRECOUVREMENT].[DR_Resume], [F_DRECOUVREMENT].[N_Litige], [P_LITIGE].[L_Intitule] 
FROM [F_DRECOUVREMENT] JOIN [F_DRECOUVREMENTEC] ON [F_DRECOUVREMENTEC].[DR_Num] = [F_DRECOUVREMENT].[DR_Num] LEFT OUTER JOIN [P_LITIGE] ON [P_LITIGE].[cbIndice] = [F_DRECOUVREMENT].[N_Litige] 
WHERE [F_DRECOUVREMENT].[N_Litige] > :N_Litige_1 AND [F_DRECOUVREMENT].[CT_Num] IN (__[POSTCOMPILE_accounts]) ORDER BY [F_DRECOUVREMENT].[DR_DateDebut], [F_DRECOUVREMENT].[cbMarq]
;
SELECT [F_DRECOUVREMENTEC].[EC_No], [F_DRECOUVREMENT].[DR_Num], [F_DRECOUVREMENT].[DR_DateDebut], [F_DRECOUVREMENT].[DR_DateFin], [F_DRECOUVREMENT].[DR_Resume], [F_DRECOUVREMENT].[N_Litige], [P_LITIGE].[L_Intitule] 
FROM [F_DRECOUVREMENT] JOIN [F_DRECOUVREMENTEC] ON [F_DRECOUVREMENTEC].[DR_Num] = [F_DRECOUVREMENT].[DR_Num] LEFT OUTER JOIN [P_LITIGE] ON [P_LITIGE].[cbIndice] = [F_DRECOUVREMENT].[N_Litige] 
WHERE [F_DRECOUVREMENT].[N_Litige] > :N_Litige_1 ORDER BY [F_DRECOUVREMENT].[DR_DateDebut], [F_DRECOUVREMENT].[cbMarq]
;
SELECT [F_DRECOUVREMENT].[CT_Num] 
FROM [F_DRECOUVREMENT] 
WHERE [F_DRECOUVREMENT].[cbModification] >= :since UNION SELECT [F_DRECOUVREMENT].[CT_Num] 
FROM [F_DRECOUVREMENT] JOIN [F_DRECOUVREMENTEC] ON [F_DRECOUVREMENTEC].[DR_Num] = [F_DRECOUVREMENT].[DR_Num] 
WHERE [F_DRECOUVREMENTEC].[cbModification] >= :since
;
SELECT [F_ECRITUREC].[cbMarq], [F_ECRITUREC].[EC_No], [F_ECRITUREC].[JO_Num], [F_ECRITUREC].[JM_Date], [F_ECRITUREC].[EC_Jour], [F_ECRITUREC].[EC_Date], [F_ECRITUREC].[EC_Piece], [F_ECRITUREC].[EC_RefPiece], [F_ECRITUREC].[CT_Num], [F_ECRITUREC].[EC_Echeance], [F_ECRITUREC].[EC_Sens], [F_ECRITUREC].[EC_Montant], [F_ECRITUREC].[EC_Lettre], [F_ECRITUREC].[EC_Lettrage], [F_ECRITUREC].[EC_Rappel], [F_ECRITUREC].[EC_DateRelance], [F_ECRITUREC].[EC_ANType], [F_ECRITUREC].[cbModification] 
FROM [F_ECRITUREC] JOIN [F_COMPTET] ON [F_COMPTET].[CT_Num] = [F_ECRITUREC].[CT_Num] 
WHERE [F_COMPTET].[CT_Type] = :CT_Type_1 AND [F_ECRITUREC].[CG_Num] LIKE :CG_Num_1 AND ([F_ECRITUREC].[EC_Lettre] = :EC_Lettre_1 OR [F_ECRITUREC].[cbModification] >= :cutoff) AND (EXISTS (SELECT * 
FROM [F_ECRITUREC] AS changed 
WHERE changed.[cbModification] >= :since AND changed.[CT_Num] = [F_ECRITUREC].[CT_Num] AND changed.[CG_Num] LIKE :CG_Num_2 AND (coalesce(nullif(changed.[EC_RefPiece], :nullif_1), changed.[EC_Piece]) = coalesce(nullif([F_ECRITUREC].[EC_RefPiece], :nullif_2), [F_ECRITUREC].[EC_Piece]) OR changed.[EC_Lettrage] IS NOT NULL AND changed.[EC_Lettrage] != :EC_Lettrage_1 AND changed.[EC_Lettrage] = [F_ECRITUREC].[EC_Lettrage]))) ORDER BY [F_ECRITUREC].[cbModification], [F_ECRITUREC].[cbMarq]
;
SELECT [F_ECRITUREC].[cbMarq], [F_ECRITUREC].[EC_No], [F_ECRITUREC].[JO_Num], [F_ECRITUREC].[JM_Date], [F_ECRITUREC].[EC_Jour], [F_ECRITUREC].[EC_Date], [F_ECRITUREC].[EC_Piece], [F_ECRITUREC].[EC_RefPiece], [F_ECRITUREC].[CT_Num], [F_ECRITUREC].[EC_Echeance], [F_ECRITUREC].[EC_Sens], [F_ECRITUREC].[EC_Montant], [F_ECRITUREC].[EC_Lettre], [F_ECRITUREC].[EC_Lettrage], [F_ECRITUREC].[EC_Rappel], [F_ECRITUREC].[EC_DateRelance], [F_ECRITUREC].[EC_ANType], [F_ECRITUREC].[cbModification] 
FROM [F_ECRITUREC] JOIN [F_COMPTET] ON [F_COMPTET].[CT_Num] = [F_ECRITUREC].[CT_Num] 
WHERE [F_COMPTET].[CT_Type] = :CT_Type_1 AND [F_ECRITUREC].[CG_Num] LIKE :CG_Num_1 AND ([F_ECRITUREC].[EC_Lettre] = :EC_Lettre_1 OR [F_ECRITUREC].[cbModification] >= :cutoff) AND [F_ECRITUREC].[CT_Num] IN (__[POSTCOMPILE_accounts]) AND ([F_ECRITUREC].[EC_RefPiece] IN (__[POSTCOMPILE_refs]) OR [F_ECRITUREC].[EC_Piece] IN (__[POSTCOMPILE_refs]) OR [F_ECRITUREC].[EC_Lettrage] IN (__[POSTCOMPILE_codes])) ORDER BY [F_ECRITUREC].[cbModification], [F_ECRITUREC].[cbMarq]
;
SELECT [F_ECRITUREC].[cbMarq], [F_ECRITUREC].[EC_No], [F_ECRITUREC].[JO_Num], [F_ECRITUREC].[JM_Date], [F_ECRITUREC].[EC_Jour], [F_ECRITUREC].[EC_Date], [F_ECRITUREC].[EC_Piece], [F_ECRITUREC].[EC_RefPiece], [F_ECRITUREC].[CT_Num], [F_ECRITUREC].[EC_Echeance], [F_ECRITUREC].[EC_Sens], [F_ECRITUREC].[EC_Montant], [F_ECRITUREC].[EC_Lettre], [F_ECRITUREC].[EC_Lettrage], [F_ECRITUREC].[EC_Rappel], [F_ECRITUREC].[EC_DateRelance], [F_ECRITUREC].[EC_ANType], [F_ECRITUREC].[cbModification] 
FROM [F_ECRITUREC] JOIN [F_COMPTET] ON [F_COMPTET].[CT_Num] = [F_ECRITUREC].[CT_Num] 
WHERE [F_COMPTET].[CT_Type] = :CT_Type_1 AND [F_ECRITUREC].[CG_Num] LIKE :CG_Num_1 AND ([F_ECRITUREC].[EC_Lettre] = :EC_Lettre_1 OR [F_ECRITUREC].[cbModification] >= :cutoff) AND [F_ECRITUREC].[CT_Num] IN (__[POSTCOMPILE_accounts]) ORDER BY [F_ECRITUREC].[cbModification], [F_ECRITUREC].[cbMarq]
;
SELECT [F_ECRITUREC].[cbMarq], [F_ECRITUREC].[EC_No], [F_ECRITUREC].[JO_Num], [F_ECRITUREC].[JM_Date], [F_ECRITUREC].[EC_Jour], [F_ECRITUREC].[EC_Date], [F_ECRITUREC].[EC_Piece], [F_ECRITUREC].[EC_RefPiece], [F_ECRITUREC].[CT_Num], [F_ECRITUREC].[EC_Echeance], [F_ECRITUREC].[EC_Sens], [F_ECRITUREC].[EC_Montant], [F_ECRITUREC].[EC_Lettre], [F_ECRITUREC].[EC_Lettrage], [F_ECRITUREC].[EC_Rappel], [F_ECRITUREC].[EC_DateRelance], [F_ECRITUREC].[EC_ANType], [F_ECRITUREC].[cbModification] 
FROM [F_ECRITUREC] JOIN [F_COMPTET] ON [F_COMPTET].[CT_Num] = [F_ECRITUREC].[CT_Num] 
WHERE [F_COMPTET].[CT_Type] = :CT_Type_1 AND [F_ECRITUREC].[CG_Num] LIKE :CG_Num_1 AND ([F_ECRITUREC].[EC_Lettre] = :EC_Lettre_1 OR [F_ECRITUREC].[cbModification] >= :cutoff) ORDER BY [F_ECRITUREC].[cbModification], [F_ECRITUREC].[cbMarq]
;
SELECT [cbSysLibre].[CB_Name], [cbSysLibre].[CB_Type], [cbSysLibre].[CB_Len] 
FROM [cbSysLibre] 
WHERE [cbSysLibre].[CB_File] = :CB_File_1 ORDER BY [cbSysLibre].[CB_Pos]
;
UPDATE [F_COMPTET] SET [CT_Intitule]=[F_COMPTET].[CT_Intitule] WHERE 0 = 1
;
UPDATE [F_COMPTET] SET [Litige]=[F_COMPTET].[Litige] WHERE 0 = 1
;
UPDATE [F_COMPTET] SET [Relance niveau]=:v0, [Litige]=:v1 WHERE [F_COMPTET].[cbMarq] = :marq
;
UPDATE [F_COMPTET] SET [Relance niveau]=[F_COMPTET].[Relance niveau] WHERE 0 = 1
